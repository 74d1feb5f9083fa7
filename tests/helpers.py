"""Small builders shared by the unit tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

import pandas as pd

WINDOW = (2015, 2024)


def make_panel(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    """A tidy panel from ``(iso3, indicator, year, value)`` tuples, source ``test``."""
    frame = pd.DataFrame(rows, columns=["iso3", "indicator", "year", "value"])
    frame["source"] = "test"
    return frame
