"""Numbers as a reader wants them: three significant figures, thousands separated.

One formatter for every table cell, caption and finding, so a value reads the
same on every page (0.165, not "0.20"; 1,560, not "1560.09").
"""

from __future__ import annotations

import math

SIGNIFICANT = 3


def sig(x: object, digits: int = SIGNIFICANT) -> str:
    """``x`` to ``digits`` significant figures; integers of 1,000 and more keep every digit.

    Missing or non-finite values read "n/a".
    """
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if magnitude >= digits - 1:
        return f"{round(v):,}"
    decimals = digits - 1 - magnitude
    text = f"{v:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
