"""Adapters for the real publishers: each turns its raw format into the tidy panel."""
