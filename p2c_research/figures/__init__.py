"""Figures and maps: render results into matplotlib figures; no statistics here."""
