"""Class breaks a reader can take in: "15 – 1,600", not "14.81, 1,560.09".

A choropleth's classes come from a classifier (quantiles, Fisher-Jenks) whose
breaks fall on arbitrary values. Here each break is rounded to two
significant figures (three or four where two would merge two classes or
empty one), the lowest bound is rounded down and the highest up, so every
value still falls in a class, the breaks stay increasing and no class is
empty. Rounding moves the odd value across a break: the classes are then
"about" quantiles, which is what the legend promised a reader anyway.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

import numpy as np

from p2c_research.textfmt import sig

#: Significant figures of a rounded break (more only where needed to keep a class).
BREAK_DIGITS = 2
_MODES = {"nearest": ROUND_HALF_EVEN, "down": ROUND_FLOOR, "up": ROUND_CEILING}


def round_sig(x: float, digits: int = BREAK_DIGITS,
              mode: Literal["nearest", "down", "up"] = "nearest") -> float:
    """``x`` rounded to ``digits`` significant figures, to the nearest, down or up.

    Decimal arithmetic on the shortest repr, so 1.7 rounded down stays 1.7
    (binary floor of 1.7 / 0.1 would give 1.6).
    """
    if x == 0 or not math.isfinite(x):
        return float(x)
    magnitude = math.floor(math.log10(abs(x)))
    quantum = Decimal(1).scaleb(magnitude - digits + 1)
    return float(Decimal(repr(float(x))).quantize(quantum, rounding=_MODES[mode]))


@dataclass(frozen=True)
class ClassBreaks:
    """Rounded classes: ``lower`` is the first class's lower bound, ``uppers`` each class's top.

    A value ``v`` is in class ``i`` when ``uppers[i-1] < v <= uppers[i]`` (the
    first class also holds ``lower``).
    """

    lower: float
    uppers: tuple[float, ...]

    def classify(self, values: np.ndarray) -> np.ndarray:
        """The class index of each value (-1 where missing)."""
        v = np.asarray(values, dtype=float)
        out = np.searchsorted(np.asarray(self.uppers), v, side="left")
        return np.where(np.isfinite(v), out, -1)

    def labels(self) -> list[str]:
        """``"low – high"`` per class (one number where they are equal).

        Numbers as :func:`p2c_research.textfmt.sig` writes them.
        """
        bounds = [self.lower, *self.uppers]
        # digits=6: the bounds are already rounded; sig only adds thousands separators
        # and drops trailing zeros.
        return [sig(hi, 6) if lo == hi else f"{sig(lo, 6)} – {sig(hi, 6)}"
                for lo, hi in itertools.pairwise(bounds)]


def readable_breaks(values: np.ndarray, bins: np.ndarray | list[float],
                    digits: int = BREAK_DIGITS) -> ClassBreaks:
    """Round a classifier's ``bins`` (class tops, increasing) for a legend.

    Each inner break is rounded to ``digits`` significant figures; where that
    would leave a class empty or out of order, one or two more figures are
    tried, and a break that no rounding keeps is dropped (its class merges into
    the next). The top is the data maximum rounded up, the bottom the minimum
    rounded down.
    """
    y = np.sort(np.asarray(values, dtype=float))
    y = y[np.isfinite(y)]
    if not y.size:
        raise ValueError("readable_breaks needs at least one finite value")
    top = round_sig(float(y[-1]), digits, "up")
    uppers: list[float] = []
    for raw in list(bins)[:-1]:
        below = uppers[-1] if uppers else -math.inf
        for d in (digits, digits + 1, digits + 2):
            r = round_sig(float(raw), d)
            in_class = np.count_nonzero((y > below) & (y <= r))
            if r > below and in_class and np.count_nonzero(y > r):
                uppers.append(r)
                break
    return ClassBreaks(lower=round_sig(float(y[0]), digits, "down"), uppers=(*uppers, top))
