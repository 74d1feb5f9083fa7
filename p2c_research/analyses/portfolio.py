"""Every country of a batch side by side, and two countries against each other.

The portfolio view is what the P2C secretariat follows across partners: pillar
scores with peer percentiles, verdict counts, priority gaps, need against
support and data coverage, one row per country. It is assembled from the
tables each country's reports already wrote (``OUT/<ISO3>/tables/*.csv``), so
it recomputes nothing: a value on the portfolio page is the value in that
country's own report. Reading the files is the report layer's job
(:mod:`p2c_research.reports.portfolio_report`); these functions take frames.

:func:`pair_comparison` serves the explorer's "compare two countries" view
from the all-economy scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from p2c_research.analyses.gaps import FLAG_HIGH_NEED_THIN
from p2c_research.analyses.regression import NO_DATA, NO_VERDICT, VERDICTS
from p2c_research.catalog import SCORED_PILLARS
from p2c_research.countries import ITU_REGIONS

#: The group of economies that are not ITU members (no ITU-D region), listed last.
NO_REGION = "No ITU-D region"
REGION_ORDER: tuple[str, ...] = (*ITU_REGIONS, NO_REGION)

#: Which report writes each table the portfolio reads: a failed report's tables
#: may be left from an earlier run, so they are not shown for that country.
TABLE_NOTEBOOK: dict[str, str] = {
    "pillar_scores": "landscape",
    "landscape_scores": "landscape",
    "verdicts": "benchmarking",
    "pledge_gaps": "pledge_gap_map",
}

#: Column names of the verdict counts, in the order of the verdict scale.
VERDICT_COUNT_COLUMNS: dict[str, str] = {v: v.replace(" ", "_") for v in
                                         (*VERDICTS, NO_VERDICT, NO_DATA)}


def pillar_columns(pillar: str) -> tuple[str, str, str]:
    """The portfolio's score, peer-percentile and peer-count column names of ``pillar``."""
    key = pillar.lower()
    return f"{key}_score", f"{key}_percentile", f"{key}_peer_n"


PORTFOLIO_COLUMNS: list[str] = [
    "iso3", "country", "itu_region", "status", "error", "peer_set",
    *[c for p in SCORED_PILLARS for c in pillar_columns(p)],
    *VERDICT_COUNT_COLUMNS.values(),
    "priorities", "priorities_thin_support", "top_gap_priority", "top_gap_index",
    "need", "usd_per_capita", "need_class", "support_class", "gap_flag",
    "indicators_scored", "indicators_total", "data_coverage", "pledge_basis",
]


@dataclass(frozen=True)
class CountryRun:
    """How one country's reports ended in the batch: ``ok``, ``failed`` or ``not run``.

    ``failed_notebooks`` names the reports that failed (their tables are not
    read); ``error`` is the first error message, for the failure list.
    """

    iso3: str
    status: str
    failed_notebooks: tuple[str, ...] = ()
    error: str = ""


def _rows_of(tables: Mapping[str, pd.DataFrame], name: str, iso3: str,
             run: CountryRun) -> pd.DataFrame | None:
    frame = tables.get(name)
    if frame is None or "iso3" not in frame or TABLE_NOTEBOOK[name] in run.failed_notebooks:
        return None
    rows = frame[frame["iso3"] == iso3]
    return rows if len(rows) else None


def _pillar_values(pillars: pd.DataFrame | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for pillar in SCORED_PILLARS:
        score_col, pct_col, n_col = pillar_columns(pillar)
        row = pillars[pillars["pillar"] == pillar] if pillars is not None else pd.DataFrame()
        for col, key in ((score_col, "score"), (pct_col, "peer_percentile"), (n_col, "peer_n")):
            value = row[key].iloc[0] if len(row) and key in row else None
            out[col] = float(value) if value is not None and pd.notna(value) else float("nan")
    if pillars is not None and "peer_set" in pillars and pillars["peer_set"].notna().any():
        out["peer_set"] = str(pillars["peer_set"].dropna().iloc[0])
    return out


def _verdict_values(verdicts: pd.DataFrame | None) -> dict[str, object]:
    if verdicts is None or "verdict" not in verdicts:
        return {col: pd.NA for col in VERDICT_COUNT_COLUMNS.values()}
    counts = verdicts["verdict"].value_counts()
    return {col: int(counts.get(v, 0)) for v, col in VERDICT_COUNT_COLUMNS.items()}


def _gap_values(gaps: pd.DataFrame | None) -> dict[str, object]:
    if gaps is None or "level" not in gaps:
        return {}
    out: dict[str, object] = {}
    priorities = gaps[gaps["level"] == "priority"]
    out["priorities"] = len(priorities)
    out["priorities_thin_support"] = int((priorities["flag"] == FLAG_HIGH_NEED_THIN).sum())
    ranked = priorities.dropna(subset=["gap_index"])
    if len(ranked):
        top = ranked.sort_values(["gap_index", "group_id"], ascending=[False, True]).iloc[0]
        out["top_gap_priority"] = str(top["title"])
        out["top_gap_index"] = float(top["gap_index"])
    country = gaps[gaps["level"] == "country"]
    if len(country):
        row = country.iloc[0]
        for col, key in (("need", "need"), ("usd_per_capita", "usd_per_capita"),
                         ("need_class", "need_class"), ("support_class", "support_class"),
                         ("gap_flag", "flag")):
            if key in row:
                out[col] = row[key]
    if "pledge_basis" in gaps and gaps["pledge_basis"].notna().any():
        out["pledge_basis"] = str(gaps["pledge_basis"].dropna().iloc[0])
    return out


def _coverage_values(scores: pd.DataFrame | None) -> dict[str, object]:
    if scores is None or "score" not in scores:
        return {}
    total = int(scores["indicator"].nunique())
    scored = int(scores.loc[scores["score"].notna(), "indicator"].nunique())
    return {"indicators_scored": scored, "indicators_total": total,
            "data_coverage": 100.0 * scored / total if total else float("nan")}


def portfolio_table(tables: Mapping[str, pd.DataFrame], runs: Iterable[CountryRun],
                    reference: pd.DataFrame) -> pd.DataFrame:
    """One row per country of ``runs``: the portfolio, ordered by ITU-D region, then country name.

    Args:
        tables: each country table by name (:data:`TABLE_NOTEBOOK`), every
            country's rows concatenated, with an ``iso3`` column.
        runs: the countries of the batch and how their reports ended.
        reference: ``iso3, name, itu_region`` (``itu_region`` missing for an
            economy that is not an ITU member).

    Returns:
        A frame with :data:`PORTFOLIO_COLUMNS`: values as the countries' own
        tables hold them (scores 0-100, percentiles 0-100, counts, USD per
        person), data coverage in % of the catalog's scored indicators. A
        failed country keeps its row, with the values of its reports that
        succeeded.
    """
    ref = reference.set_index("iso3")
    rows = []
    for run in runs:
        name = ref["name"].get(run.iso3, run.iso3) if "name" in ref else run.iso3
        region = ref["itu_region"].get(run.iso3) if "itu_region" in ref else None
        row: dict[str, object] = {
            "iso3": run.iso3, "country": str(name),
            "itu_region": str(region) if isinstance(region, str) and region else NO_REGION,
            "status": run.status, "error": run.error,
        }
        row |= _pillar_values(_rows_of(tables, "pillar_scores", run.iso3, run))
        row |= _verdict_values(_rows_of(tables, "verdicts", run.iso3, run))
        row |= _gap_values(_rows_of(tables, "pledge_gaps", run.iso3, run))
        row |= _coverage_values(_rows_of(tables, "landscape_scores", run.iso3, run))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=PORTFOLIO_COLUMNS)
    return order_by_region(frame)


def order_by_region(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` sorted by ITU-D region (ITU's order, non-members last), then country name."""
    rank = {r: k for k, r in enumerate(REGION_ORDER)}
    key = frame["itu_region"].map(rank).fillna(len(rank))
    return (frame.assign(_rank=key).sort_values(["_rank", "country", "iso3"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def region_counts(frame: pd.DataFrame) -> pd.Series:
    """Countries per ITU-D region present in ``frame``, in region order."""
    counts = frame["itu_region"].value_counts()
    return pd.Series({r: int(counts[r]) for r in REGION_ORDER if r in counts}, dtype="int64")


# --------------------------------------------------------------------------- two countries
@dataclass
class PairComparison:
    """Two countries side by side: pillar scores and indicator values."""

    a: str
    b: str
    pillars: pd.DataFrame
    indicators: pd.DataFrame


def pair_comparison(a: str, b: str, pillars: pd.DataFrame, indicators: pd.DataFrame,
                    indicator_order: list[str]) -> PairComparison:
    """``a`` and ``b`` side by side, from all-economy scores (``WorldScores`` frames).

    Args:
        pillars: ``iso3, pillar, score, coverage`` rows (at least those of a and b).
        indicators: ``iso3, indicator, year, value, score`` rows.
        indicator_order: the catalog's scored indicators, in catalog order;
            an indicator neither country has a value for is left out.

    Returns:
        ``pillars``: ``pillar, score_a, score_b, difference`` (b minus a) and
        ``coverage_a, coverage_b``; ``indicators``: ``indicator, value_a,
        year_a, score_a, value_b, year_b, score_b``.
    """
    def own(frame: pd.DataFrame, code: str, key: str, cols: list[str]) -> pd.DataFrame:
        rows = frame.loc[frame["iso3"] == code, [key, *cols]].drop_duplicates(key)
        return rows.set_index(key)

    pa = own(pillars, a, "pillar", ["score", "coverage"])
    pb = own(pillars, b, "pillar", ["score", "coverage"])
    pillar_frame = pd.DataFrame({"pillar": list(SCORED_PILLARS)}).set_index("pillar")
    pillar_frame["score_a"] = pa["score"].reindex(pillar_frame.index)
    pillar_frame["score_b"] = pb["score"].reindex(pillar_frame.index)
    pillar_frame["difference"] = pillar_frame["score_b"] - pillar_frame["score_a"]
    pillar_frame["coverage_a"] = pa["coverage"].reindex(pillar_frame.index)
    pillar_frame["coverage_b"] = pb["coverage"].reindex(pillar_frame.index)

    ia = own(indicators, a, "indicator", ["value", "year", "score"])
    ib = own(indicators, b, "indicator", ["value", "year", "score"])
    ind = pd.DataFrame(index=pd.Index(indicator_order, name="indicator"))
    for suffix, part in (("a", ia), ("b", ib)):
        for col in ("value", "year", "score"):
            ind[f"{col}_{suffix}"] = part[col].reindex(ind.index)
    ind = ind[ind[["value_a", "value_b"]].notna().any(axis=1)]
    order = ["value_a", "year_a", "score_a", "value_b", "year_b", "score_b"]
    return PairComparison(a=a, b=b, pillars=pillar_frame.reset_index(),
                          indicators=ind[order].reset_index())
