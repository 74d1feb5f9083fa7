"""Need against support across countries: where need is high and pledges are thin.

Everything here runs on all economies at once, for three *levels* of grouping:
``priority`` (the strategic priorities of the country under study, applied to
every economy so they can be ranked), ``pillar`` (ACCESS, ADOPTION,
VALUE_CREATION) and ``country`` (one group ``all``).

Formulas (documented in the report):

* **need** = ``(100 - score) + UNDER_POINTS x under_share``, where ``score`` is
  the landscape score of the group (0-100) and ``under_share`` the share of
  the group's benchmarked indicators whose verdict is *below* or *well below*
  what GDP per capita predicts (the one verdict engine,
  :mod:`p2c_research.analyses.verdicts`: the preferred model's graded
  residual; "no verdict" and "no data" do not count). With ``UNDER_POINTS = 10`` need
  runs from 0 to 110. Where the country has no benchmark result for any of the
  group's indicators the term is 0 and ``need_basis`` says "score only".
* **support** = pledge USD allocated to the economy for the group, per
  capita (``usd_per_capita``), with the pledge count beside it. Pledges with no
  USD value count in ``pledge_count`` but not in USD.
* **gap index** = ``100 x need_pct x (1 - support_pct)``, where ``need_pct``
  and ``support_pct`` are percentile ranks across the economies that have both
  a need and a support value, ``(rank - 1) / (n - 1)`` with ties averaged (0 =
  lowest, 1 = highest). It is 100 for the neediest, least supported economy
  and 0 wherever need is the lowest or support the highest.
* **ranks**: ``need_rank`` 1 = highest need, ``support_rank`` 1 = least
  support, ``gap_rank`` 1 = largest gap (ties share the best rank), each out
  of ``n_ranked``.
* **classes** (also the bivariate map): need and support terciles on the
  percentile ranks, low < 1/3 <= mid < 2/3 <= high. **flag**: "high need,
  thin support" (high need, low support), else "low need" (low need), else
  "supported" (high support), else "moderate"; "no data" without need or
  support.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from p2c_research.analyses.classification import PriorityLike
from p2c_research.analyses.regression import VERDICTS
from p2c_research.analyses.scores import catalog_meta, priority_members
from p2c_research.analyses.verdicts import FLAGGED
from p2c_research.catalog import SCORED_PILLARS, Catalog

UNDER_POINTS = 10.0
LEVELS: tuple[str, ...] = ("priority", "pillar", "country")
COUNTRY_GROUP = "all"
FLAG_HIGH_NEED_THIN = "high need, thin support"
FLAG_LOW_NEED = "low need"
FLAG_SUPPORTED = "supported"
FLAG_MODERATE = "moderate"
FLAG_NO_DATA = "no data"
CLASSES: tuple[str, ...] = ("low", "mid", "high")

NEED_FORMULA = (
    f"need = (100 - landscape score) + {UNDER_POINTS:g} x share of the group's benchmarked "
    f"indicators below or well below what GDP per capita predicts; "
    f"0-{100 + UNDER_POINTS:g}"
)
GAP_FORMULA = (
    "gap index = 100 x need_pct x (1 - support_pct); need_pct and support_pct are percentile "
    "ranks across economies ((rank - 1) / (n - 1), ties averaged); support = allocated "
    "pledge USD per capita"
)


def indicator_membership(catalog: Catalog, priorities: Sequence[PriorityLike]) -> pd.DataFrame:
    """Which scored indicators make up each priority, pillar and the country total.

    A priority holds the indicators that measure it
    (:func:`p2c_research.analyses.scores.priority_members`: its own list, else
    those of its sub-pillars, else of its pillars), the same set its landscape
    score uses. Columns ``level, group_id, indicator``.
    """
    meta = catalog_meta(catalog)
    rows: list[tuple[str, str, str]] = []
    for ind in catalog.scored:
        rows.append(("pillar", ind.pillar, ind.id))
        rows.append(("country", COUNTRY_GROUP, ind.id))
    for pr in priorities:
        rows += [("priority", pr.id, i) for i in priority_members(meta, pr)]
    return pd.DataFrame(rows, columns=["level", "group_id", "indicator"])


def under_shares(verdicts: pd.DataFrame | None, membership: pd.DataFrame) -> pd.DataFrame:
    """Share of each group's graded indicators that are below what income predicts, per economy.

    ``verdicts`` has ``iso3, indicator, verdict``
    (:func:`p2c_research.analyses.verdicts.world_verdicts`). Only graded
    verdicts count (well below ... well above); "below" and "well below" are
    under-performance. Columns ``iso3, level, group_id, n_benchmarked, n_under,
    under_share``; groups without any graded indicator have no row.
    """
    cols = ["iso3", "level", "group_id", "n_benchmarked", "n_under", "under_share"]
    if verdicts is None or verdicts.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    rows = verdicts.loc[verdicts["verdict"].isin(VERDICTS), ["iso3", "indicator", "verdict"]]
    merged = rows.merge(membership, on="indicator", how="inner")
    merged["is_under"] = merged["verdict"].isin(FLAGGED).astype(int)
    out = (merged.groupby(["iso3", "level", "group_id"], as_index=False)
           .agg(n_benchmarked=("is_under", "size"), n_under=("is_under", "sum")))
    out["under_share"] = out["n_under"] / out["n_benchmarked"]
    return out[cols]


def need_scores(
    scores: pd.DataFrame,
    under: pd.DataFrame,
    under_points: float = UNDER_POINTS,
) -> pd.DataFrame:
    """Need per economy and group: the distance to 100 plus the benchmark penalty.

    ``scores`` has ``iso3, level, group_id, score`` (NaN where the score lacks
    coverage). Returns those columns plus ``under_share, n_benchmarked, n_under,
    need, need_basis``.
    """
    out = scores.merge(under, on=["iso3", "level", "group_id"], how="left")
    has_bench = out["under_share"].notna()
    out["need"] = (100.0 - out["score"]) + under_points * out["under_share"].fillna(0.0)
    out["need_basis"] = np.where(
        out["score"].isna(), "no score (insufficient data)",
        np.where(has_bench, "score + benchmark", "score only (no benchmark)"))
    out["n_benchmarked"] = out["n_benchmarked"].fillna(0).astype("int64")
    out["n_under"] = out["n_under"].fillna(0).astype("int64")
    return out


def overall_scores(pillar_scores: pd.DataFrame, min_pillars: int = 2) -> pd.DataFrame:
    """The country-level score: the mean of the pillar scores an economy has.

    ``pillar_scores`` has ``iso3, pillar, score`` (NaN where insufficient).
    Economies with fewer than ``min_pillars`` pillar scores get NaN. Returns
    ``iso3, level, group_id, score, n_pillars``.
    """
    grouped = pillar_scores.groupby("iso3")["score"]
    out = pd.DataFrame({"score": grouped.mean(), "n_pillars": grouped.count()})
    out.loc[out["n_pillars"] < min_pillars, "score"] = np.nan
    out = out.rename_axis("iso3").reset_index()
    out.insert(1, "level", "country")
    out.insert(2, "group_id", COUNTRY_GROUP)
    return out


def pledge_groups(pledges: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Which groups each pledge supports: its priorities, its focus area (if scored), ``all``.

    ``labels`` is the output of ``classify_pledges``. ACCELERATE pledges count
    towards priorities they match and towards the country total, not a pillar.
    Columns ``pledge_id, level, group_id``.
    """
    ids = pledges["pledge_id"].astype(str)
    focus = pledges["focus_area"].astype(str).str.upper()
    parts = [
        pd.DataFrame({"pledge_id": labels["pledge_id"].astype(str), "level": "priority",
                      "group_id": labels["priority_id"].astype(str)}),
        pd.DataFrame({"pledge_id": ids[focus.isin(SCORED_PILLARS)],
                      "level": "pillar", "group_id": focus[focus.isin(SCORED_PILLARS)]}),
        pd.DataFrame({"pledge_id": ids, "level": "country", "group_id": COUNTRY_GROUP}),
    ]
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def support_by_group(
    allocation: pd.DataFrame,
    groups: pd.DataFrame,
    population: pd.Series,
    economies: Sequence[str],
    group_index: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pledge support per economy and group, zero where no pledge reaches.

    Args:
        allocation: from ``allocate_pledges``.
        groups: from ``pledge_groups``.
        population: persons by ISO3.
        economies: the economies to report (rows are completed with zeros).
        group_index: ``level, group_id`` pairs to report even with no pledge
            (e.g. a priority no pledge matches); defaults to those in ``groups``.

    Returns ``iso3, level, group_id, pledge_usd, pledge_count, count_allocated,
    population, usd_per_capita`` (USD per person).
    """
    merged = allocation[["pledge_id", "iso3", "usd_allocated", "count_allocated"]].merge(
        groups, on="pledge_id", how="inner")
    agg = (merged.groupby(["iso3", "level", "group_id"])
           .agg(pledge_usd=("usd_allocated", "sum"),
                pledge_count=("pledge_id", "nunique"),
                count_allocated=("count_allocated", "sum")))
    pairs = group_index if group_index is not None else groups[["level", "group_id"]]
    pairs = pairs.drop_duplicates()
    full = pd.MultiIndex.from_tuples(
        [(iso3, lv, g) for iso3 in economies
         for lv, g in zip(pairs["level"], pairs["group_id"], strict=True)],
        names=["iso3", "level", "group_id"])
    out = agg.reindex(full).reset_index()
    out["pledge_usd"] = out["pledge_usd"].fillna(0.0)
    out["pledge_count"] = out["pledge_count"].fillna(0).astype("int64")
    out["count_allocated"] = out["count_allocated"].fillna(0.0)
    pop = pd.Series(population.to_numpy(dtype=float), index=population.index.astype(str))
    out["population"] = out["iso3"].map(pop[~pop.index.duplicated()])
    out["usd_per_capita"] = out["pledge_usd"] / out["population"].where(out["population"] > 0)
    return out


def _pct_rank(values: pd.Series) -> pd.Series:
    n = values.notna().sum()
    if n == 0:
        return values * np.nan
    if n == 1:
        return pd.Series(np.where(values.notna(), 0.5, np.nan), index=values.index)
    return (values.rank(method="average") - 1.0) / (n - 1.0)


def _tercile(pct: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=pct.index, dtype="string")
    out[pct < 1 / 3] = "low"
    out[(pct >= 1 / 3) & (pct < 2 / 3)] = "mid"
    out[pct >= 2 / 3] = "high"
    return out


def gap_index(need: pd.DataFrame, support: pd.DataFrame) -> pd.DataFrame:
    """Join need and support and rank economies within each group (see module docstring).

    Returns one row per ``iso3, level, group_id`` with need and support
    columns, ``need_pct, support_pct, gap_index, need_rank, support_rank,
    gap_rank, n_ranked, need_class, support_class, flag``.
    """
    out = need.merge(support, on=["iso3", "level", "group_id"], how="outer")
    ranked = out["need"].notna() & out["usd_per_capita"].notna()
    pieces = []
    for _, grp in out.groupby(["level", "group_id"], sort=False):
        grp = grp.copy()
        ok = ranked.loc[grp.index]
        need_ok = grp["need"].where(ok)
        supp_ok = grp["usd_per_capita"].where(ok)
        grp["need_pct"] = _pct_rank(need_ok)
        grp["support_pct"] = _pct_rank(supp_ok)
        grp["gap_index"] = 100.0 * grp["need_pct"] * (1.0 - grp["support_pct"])
        grp["need_rank"] = need_ok.rank(method="min", ascending=False).astype("Int64")
        grp["support_rank"] = supp_ok.rank(method="min", ascending=True).astype("Int64")
        grp["gap_rank"] = grp["gap_index"].rank(method="min", ascending=False).astype("Int64")
        grp["n_ranked"] = int(ok.sum())
        pieces.append(grp)
    out = pd.concat(pieces).sort_index() if pieces else out
    out["need_class"] = _tercile(out["need_pct"])
    out["support_class"] = _tercile(out["support_pct"])
    flag = pd.Series(FLAG_MODERATE, index=out.index, dtype="string")
    flag[out["support_class"] == "high"] = FLAG_SUPPORTED
    flag[out["need_class"] == "low"] = FLAG_LOW_NEED
    flag[(out["need_class"] == "high") & (out["support_class"] == "low")] = FLAG_HIGH_NEED_THIN
    flag[out["need_class"].isna() | out["support_class"].isna()] = FLAG_NO_DATA
    out["flag"] = flag
    return out.reset_index(drop=True)


def league_table(gaps: pd.DataFrame, countries_frame: pd.DataFrame,
                 level: str = "country", group_id: str = COUNTRY_GROUP) -> pd.DataFrame:
    """Economies ordered by gap index (largest first) for one group, with names and groups.

    For reviewers: the under-pledged economies (high need, low support) come
    first; economies without data come last.
    """
    rows = gaps.loc[(gaps["level"] == level) & (gaps["group_id"] == group_id)]
    ref = countries_frame[["iso3", "name", "wb_region", "income_group", "ldc", "lldc", "sids"]]
    out = rows.merge(ref, on="iso3", how="left")
    keep = ["gap_rank", "iso3", "name", "wb_region", "income_group", "ldc", "lldc", "sids",
            "score", "need", "need_rank", "pledge_usd", "usd_per_capita", "pledge_count",
            "support_rank", "gap_index", "n_ranked", "need_class", "support_class", "flag",
            "need_basis"]
    out = out[[c for c in keep if c in out.columns]]
    return out.sort_values(["gap_index", "need"], ascending=[False, False],
                           na_position="last").reset_index(drop=True)
