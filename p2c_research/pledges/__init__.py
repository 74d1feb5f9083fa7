"""Pledge data: the schema, the synthetic generator and the validation rules."""
