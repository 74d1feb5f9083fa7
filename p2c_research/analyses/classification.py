"""Mapping pledges onto a country's strategic priorities.

A pledge declares a focus area (ACCESS, ADOPTION, VALUE_CREATION or
ACCELERATE) and a pillar (a catalog sub-pillar such as ``infrastructure``, or
the cross-cutting ``investment`` / ``policy_regulation``). It is labelled
with every priority that it matches in either of two ways (several labels are
allowed; pledges matching none are listed by :func:`unmatched_pledges`):

* **declared pillar**: the priority's ``sub_pillars`` contain the pledge's
  pillar. When that cannot decide (the pledge's pillar is cross-cutting or
  missing, or the priority names no sub-pillars), the pledge's focus area must
  be one of the priority's ``pillars`` instead. Falling back only then keeps an
  ACCESS/infrastructure pledge off a trust priority that merely shares ACCESS.
* **keywords**: any of the priority's keywords occurs in the pledge's entity
  or description. Matching is case-insensitive and anchored at the start of a
  word, open at the end (a *word-boundary prefix*): ``affordab`` matches
  "affordability", ``SME`` matches "SMEs", ``train`` does not match
  "constraint". Spaces in a keyword match any run of whitespace. A keyword
  written entirely in capitals (an acronym: ``SME``, ``CERT``, ``ID``) is
  matched with its case and as a whole word (a plural ``s`` allowed), so
  ``CERT`` finds "CERTs" but not "certificate".

A pledge labelled with several priorities is **split** across them, so that
priority totals add up to what the country receives
(:func:`label_weights`): each label scores :data:`MATCH_POINTS` (2 for the
declared pillar, the pledger's own statement; 1 for a keyword, our reading of
its text; 3 for both), and the pledge's value is shared in proportion to the
points.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from typing import Protocol

import pandas as pd

CROSS_CUTTING_PILLARS: tuple[str, ...] = ("investment", "policy_regulation")
LABEL_COLUMNS = ["pledge_id", "priority_id", "by_pillar", "by_keyword", "keywords", "match"]
#: Points of a label by how it was found; a pledge is split in proportion to them.
MATCH_POINTS: dict[str, float] = {"pillar": 2.0, "keyword": 1.0}
SPLIT_RULE = (
    "A pledge matching several priorities is split across them in proportion to match "
    f"points: {MATCH_POINTS['pillar']:g} for its declared pillar, "
    f"{MATCH_POINTS['keyword']:g} for a keyword, both added; priority totals therefore add "
    "up to the country's total, with pledges matching no priority in their own row."
)


class PriorityLike(Protocol):
    """What classification needs of a priority (``params.Priority`` has it)."""

    id: str
    pillars: Sequence[str]
    sub_pillars: Sequence[str]
    keywords: Sequence[str]


def _is_acronym(keyword: str) -> bool:
    letters = [c for c in keyword if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(letters) >= 2


@lru_cache(maxsize=1024)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """The compiled pattern of one keyword (see the module docstring for the rule)."""
    words = [re.escape(w) for w in keyword.strip().split()]
    if not words:
        raise ValueError("empty keyword")
    body = r"\s+".join(words)
    if _is_acronym(keyword):
        return re.compile(rf"(?<![A-Za-z0-9]){body}s?(?![A-Za-z0-9])")
    return re.compile(rf"(?<![A-Za-z0-9]){body}", re.IGNORECASE)


def matched_keywords(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords (as written in params) that occur in ``text``."""
    return [kw for kw in keywords if kw.strip() and keyword_pattern(kw).search(text)]


def _text(value: object) -> str:
    return "" if value is None or value is pd.NA or (isinstance(value, float) and value != value) \
        else str(value)


def classify_pledges(
    pledges: pd.DataFrame,
    priorities: Sequence[PriorityLike],
    sub_pillars: Collection[str] | None = None,
) -> pd.DataFrame:
    """Label each pledge with the strategic priorities it serves.

    Args:
        pledges: with ``pledge_id, focus_area, pillar, entity, description``.
        priorities: the country's ``strategic_priorities.items``.
        sub_pillars: the catalog's scored sub-pillars (the default reads the
            catalog); a pledge pillar outside them counts as cross-cutting.

    Returns:
        One row per (pledge, priority) match: ``pledge_id, priority_id,
        by_pillar, by_keyword, keywords`` (the matched keywords, ``;``-joined)
        and ``match`` (``pillar``, ``keyword`` or ``pillar+keyword``).
    """
    if sub_pillars is None:
        from p2c_research.catalog import load_catalog

        sub_pillars = {i.sub_pillar for i in load_catalog().scored}
    known = set(sub_pillars)
    rows: list[tuple[str, str, bool, bool, str, str]] = []
    for pid, focus, pillar, entity, description in zip(
        pledges["pledge_id"], pledges["focus_area"], pledges["pillar"],
        pledges["entity"], pledges["description"], strict=True,
    ):
        pillar_s = _text(pillar).strip().lower()
        focus_s = _text(focus).strip().upper()
        text = f"{_text(entity)} {_text(description)}"
        for pr in priorities:
            # The sub-pillar decides when it can; else the focus area (module docstring).
            decidable = pillar_s in known and bool(pr.sub_pillars)
            by_pillar = pillar_s in pr.sub_pillars if decidable else focus_s in pr.pillars
            found = matched_keywords(text, pr.keywords)
            if by_pillar or found:
                match = "pillar+keyword" if by_pillar and found else (
                    "pillar" if by_pillar else "keyword")
                rows.append((str(pid), pr.id, by_pillar, bool(found), ";".join(found), match))
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def label_weights(labels: pd.DataFrame) -> pd.DataFrame:
    """``labels`` with ``points`` and ``weight``: each pledge's share going to each priority.

    ``points`` = :data:`MATCH_POINTS` of the declared pillar plus that of a
    keyword match; ``weight`` = points over the pledge's total points, so the
    weights of a pledge sum to 1 and no money is counted twice.
    """
    out = labels.copy()
    out["points"] = (MATCH_POINTS["pillar"] * out["by_pillar"].astype(float)
                     + MATCH_POINTS["keyword"] * out["by_keyword"].astype(float))
    total = out.groupby("pledge_id")["points"].transform("sum")
    out["weight"] = (out["points"] / total).astype(float) if len(out) else out["points"]
    return out


def unmatched_pledges(pledges: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The pledges that match no priority, so a reviewer can map them by hand."""
    ids = pledges["pledge_id"].astype(str)
    return pledges.loc[~ids.isin(set(labels["pledge_id"]))].reset_index(drop=True)


# --------------------------------------------------------------------------- evaluation
EVALUATION_COLUMNS = ["label", "support", "true_pos", "false_pos", "false_neg", "precision",
                      "recall", "f1"]
MICRO = "all (micro-average)"


def evaluate_labels(expected: dict[str, set[str]], predicted: dict[str, set[str]],
                    labels: Sequence[str]) -> pd.DataFrame:
    """Precision and recall per label of a multi-label classification, and their micro-average.

    Args:
        expected: item id -> the labels a reader gave it (empty: none applies).
        predicted: item id -> the labels the classifier gave it (missing id: none).
        labels: the labels to score, in output order.

    Returns:
        One row per label and a last :data:`MICRO` row: ``support`` (items
        expected to carry it), ``true_pos``, ``false_pos``, ``false_neg``,
        ``precision`` = tp / (tp + fp), ``recall`` = tp / (tp + fn), ``f1``
        (NaN where a denominator is zero).
    """
    rows = []
    totals = [0, 0, 0, 0]
    for label in labels:
        tp = sum(1 for i, e in expected.items() if label in e and label in predicted.get(i, ()))
        fp = sum(1 for i, e in expected.items() if label not in e
                 and label in predicted.get(i, ()))
        fn = sum(1 for i, e in expected.items() if label in e
                 and label not in predicted.get(i, ()))
        support = sum(1 for e in expected.values() if label in e)
        rows.append((label, support, tp, fp, fn))
        totals = [t + v for t, v in zip(totals, (support, tp, fp, fn), strict=True)]
    rows.append((MICRO, *totals))
    out = pd.DataFrame(rows, columns=EVALUATION_COLUMNS[:5])
    out["precision"] = out["true_pos"] / (out["true_pos"] + out["false_pos"]).where(
        lambda d: d > 0)
    out["recall"] = out["true_pos"] / (out["true_pos"] + out["false_neg"]).where(lambda d: d > 0)
    out["f1"] = 2 * out["precision"] * out["recall"] / (out["precision"] + out["recall"])
    return out[EVALUATION_COLUMNS]
