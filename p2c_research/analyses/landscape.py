"""The landscape analysis (the 360 diagnostic) of one country, from the all-country scores.

:func:`world_scores` (re-exported from :mod:`p2c_research.analyses.scores`)
scores every economy once (:mod:`p2c_research.steps` caches it per data
vintage, so a batch computes it once). :func:`country_landscape` then
derives one country's tables from it: scores with peer statistics and
targets, pillar and sub-pillar scores, trends, targets and key findings.
Everything here is DataFrames in, DataFrames out; the report module
(:mod:`p2c_research.reports.landscape_report`) reads files and draws figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from p2c_research.analyses.findings import Finding, findings_frame, key_findings
from p2c_research.analyses.peers import (
    PEER_MIN_N,
    indicator_peer_stats,
    level_peer_stats,
    mask_thin_percentiles,
    peer_membership,
    peer_scores_long,
)
from p2c_research.analyses.quality import TREND_EXCLUDED, trend_rows
from p2c_research.analyses.scores import (
    INSUFFICIENT,
    WorldScores,
    catalog_meta,
    priority_scores,
    scale_values,
    world_scores,
)
from p2c_research.analyses.trends import (
    TARGET_COLUMNS,
    TREND_COLUMNS,
    indicator_trends,
    target_rows,
    targets_table,
    trend_lines,
    window_series,
)
from p2c_research.errors import NoDataError

__all__ = [
    "LandscapeTables", "WorldScores", "catalog_meta", "country_landscape", "empty_tables",
    "priority_scores", "scale_values", "world_scores",
]


SCORES_COLUMNS = [
    "iso3", "indicator", "name", "pillar", "sub_pillar", "unit", "year", "value", "score",
    "stale", "note", "peer_set", "peer_n", "peer_median", "peer_q25", "peer_q75",
    "peer_percentile", "target", "target_year", "target_source", "gap_to_target", "band",
    "status",
]
LEVEL_COLUMNS = [
    "score", "coverage", "n_present", "n_total", "sufficient", "core_missing", "status", "peer_set", "peer_n",
    "peer_median", "peer_q25", "peer_q75", "peer_percentile",
]
PILLAR_TABLE_COLUMNS = ["iso3", "pillar", *LEVEL_COLUMNS]
SUB_PILLAR_TABLE_COLUMNS = ["iso3", "pillar", "sub_pillar", *LEVEL_COLUMNS]
PEER_STATS_COLUMNS = [
    "iso3", "peer_set", "level", "key", "pillar", "value", "score", "peer_n", "peer_median",
    "peer_q25", "peer_q75", "peer_median_score", "peer_percentile",
]
PEER_SET_COLUMNS = ["iso3", "peer_set", "n_economies", "headline", "peer_min_n"]
PRIORITY_TABLE_COLUMNS = ["iso3", "priority_id", "title", "score", "coverage", "n_present",
                          "n_total", "sufficient", "core_missing", "indicators",
                          "measurement_note"]
STRIP_COLUMNS = ["iso3", "indicator", "pillar", "score", "role"]
TREND_LINE_COLUMNS = ["iso3", "indicator", "pillar", "year", "value", "score", "fitted"]
QUALITY_TABLE_COLUMNS = ["iso3", "indicator", "name", "year", "value", "flag", "rule", "note",
                         "used_in_score"]


# --------------------------------------------------------------------------- all countries
# --------------------------------------------------------------------------- one country
@dataclass
class LandscapeTables:
    """Every table of one country's landscape (see :func:`country_landscape`)."""

    iso3: str
    peer_set: str | None
    scores: pd.DataFrame
    pillar_scores: pd.DataFrame
    sub_pillar_scores: pd.DataFrame
    peer_stats: pd.DataFrame
    trends: pd.DataFrame
    targets: pd.DataFrame
    priorities: pd.DataFrame
    findings: list[Finding]
    trend_lines: pd.DataFrame
    strip: pd.DataFrame
    quality: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=QUALITY_TABLE_COLUMNS))
    peer_set_sizes: dict[str, int] = field(default_factory=dict)
    peer_min_n: int = PEER_MIN_N

    def peer_sets_table(self) -> pd.DataFrame:
        """peer_sets.csv: each peer set, its size (country excluded), which one is the headline."""
        rows = [(self.iso3, label, n, label == self.peer_set, self.peer_min_n)
                for label, n in self.peer_set_sizes.items()]
        return pd.DataFrame(rows, columns=PEER_SET_COLUMNS)

    def csv_tables(self) -> dict[str, pd.DataFrame]:
        """The tables written as ``OUT/<ISO3>/tables/<name>.csv``."""
        return {
            "peer_sets": self.peer_sets_table(),
            "landscape_scores": self.scores,
            "pillar_scores": self.pillar_scores,
            "sub_pillar_scores": self.sub_pillar_scores,
            "peer_stats": self.peer_stats,
            "trends": self.trends,
            "targets": self.targets,
            "priority_scores": self.priorities,
            "findings": findings_frame(self.findings),
            "data_quality": self.quality,
        }


def choose_primary_peer_set(peer_sets: Mapping[str, Sequence[str]],
                            preferred: Iterable[str] = ()) -> str | None:
    """The peer set shown in the single-peer columns: the first preferred one present, else the first.

    Reports pass the headline set of ``params.headline_peers`` (the ITU-D
    region, or a non-member's World Bank region), the one choice all three
    reports share; without a preference it is the first set, which
    ``params.resolve_peer_sets`` makes the headline one.
    """
    for label in preferred:
        if peer_sets.get(label):
            return label
    for label, members in peer_sets.items():
        if members:
            return label
    return None


def _level_table(world_rows: pd.DataFrame, peer_rows: pd.DataFrame, keys: list[str],
                 peer_set: str | None, columns: list[str]) -> pd.DataFrame:
    out = world_rows[["iso3", *keys, "score", "coverage", "n_present", "n_total", "sufficient",
                      "core_missing"]]
    out = out.copy()
    out["status"] = np.where(out["sufficient"], "scored", INSUFFICIENT)
    if peer_set is not None and not peer_rows.empty:
        p = peer_rows[peer_rows["peer_set"] == peer_set][
            ["iso3", *keys, "peer_set", "peer_n", "peer_median", "peer_q25", "peer_q75",
             "peer_percentile"]]
        out = out.merge(p, on=["iso3", *keys], how="left")
    else:
        for col in ("peer_set", "peer_n", "peer_median", "peer_q25", "peer_q75",
                    "peer_percentile"):
            out[col] = np.nan
    return out[columns].reset_index(drop=True)


def _scores_table(iso3: str, world: WorldScores, ind_peers: pd.DataFrame,
                  targets: pd.DataFrame, peer_set: str | None) -> pd.DataFrame:
    meta = world.meta
    own = world.indicators[world.indicators["iso3"] == iso3].drop(columns=["iso3", "pillar",
                                                                           "sub_pillar"])
    out = meta[["indicator", "name", "pillar", "sub_pillar", "unit"]].merge(
        own, on="indicator", how="left")
    out.insert(0, "iso3", iso3)
    out["stale"] = out["stale"].fillna(False).astype(bool)
    out["note"] = no_data_reasons(out, world)
    if peer_set is not None and not ind_peers.empty:
        p = ind_peers[ind_peers["peer_set"] == peer_set][
            ["indicator", "peer_set", "peer_n", "peer_median", "peer_q25", "peer_q75",
             "peer_percentile"]]
        out = out.merge(p, on="indicator", how="left")
    else:
        for col in ("peer_set", "peer_n", "peer_median", "peer_q25", "peer_q75",
                    "peer_percentile"):
            out[col] = np.nan
    # One target per indicator in this table: the national one where params set it, else UMC.
    if not targets.empty:
        pick = targets.assign(_rank=np.where(targets["target_kind"] == "national", 0, 1))
        pick = pick.sort_values(["indicator", "_rank"]).drop_duplicates("indicator")
        pick = pick.assign(target_source=pick["target_kind"] + ": " + pick["target_source"])
        out = out.merge(pick[["indicator", "target", "target_year", "target_source",
                              "gap_to_target", "band", "status"]], on="indicator", how="left")
    else:
        for col in ("target", "target_year", "target_source", "gap_to_target", "band",
                    "status"):
            out[col] = np.nan
    out["year"] = out["year"].astype("Int64")
    out["target_year"] = pd.to_numeric(out["target_year"]).astype("Int64")
    return out[SCORES_COLUMNS]


NOT_IN_DATA = "not in the chosen data"


def no_data_reasons(rows: pd.DataFrame, world: WorldScores) -> np.ndarray:
    """Why each indicator row of one country has no score ("" where it has one).

    * **not in the chosen data**: no economy has a value of this series in the
      panel (for example a UN SDG series the embedded sample does not carry);
      the reason names the publishers that carry it.
    * **no value for this country**: the series is there, this economy never
      reports it.
    * **no value in the window**: only values older than the year window exist
      (the latest is shown, not scored).
    """
    start, end = world.window
    available = world.available_indicators
    sources = world.meta.set_index("indicator")["sources"]
    out = []
    for rec in rows[["indicator", "value", "stale", "year"]].itertuples(index=False):
        if rec.indicator not in available:
            out.append(f"{NOT_IN_DATA} (published as {sources.get(rec.indicator, '?')})")
        elif pd.isna(rec.value):
            out.append("no value for this country in the data")
        elif rec.stale:
            out.append(f"no value in {start}-{end} (latest {int(rec.year)}): shown, not scored")
        else:
            out.append("")
    return np.asarray(out, dtype=object)


def _quality_table(own_panel: pd.DataFrame, own_scores: pd.DataFrame,
                   window: tuple[int, int], meta: pd.DataFrame) -> pd.DataFrame:
    """The country's flagged values: every flag within the window, and stale flags only
    for the values its tables show (a value from 2009 is not news), one row per flag."""
    from p2c_research.analyses.quality import flag_table

    start, end = window
    rows = own_panel[(own_panel["year"] >= start) & (own_panel["year"] <= end)
                     & (own_panel["quality"] != "")]
    table = flag_table(rows)
    shown = set(zip(own_scores["indicator"], own_scores["year"], strict=True))
    keys = list(zip(table["indicator"], table["year"], strict=True))
    is_shown = pd.Series([k in shown for k in keys], index=table.index, dtype=bool)
    table = table[(table["flag"] != "stale") | is_shown]
    used = own_scores.loc[~own_scores["stale"], ["indicator", "year"]].assign(used_in_score=True)
    table = table.merge(used, on=["indicator", "year"], how="left")
    table["used_in_score"] = table["used_in_score"].fillna(False).astype(bool)
    table["name"] = table["indicator"].map(meta.set_index("indicator")["name"])
    return table.reindex(columns=QUALITY_TABLE_COLUMNS).reset_index(drop=True)


def _peer_stats_table(ind_peers: pd.DataFrame, sub_peers: pd.DataFrame,
                      pil_peers: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    ind = ind_peers.merge(meta[["indicator", "pillar"]], on="indicator", how="left")
    ind = ind.assign(level="indicator", key=ind["indicator"])
    sub = sub_peers.assign(level="sub_pillar", key=sub_peers["sub_pillar"], value=np.nan,
                           peer_median_score=sub_peers["peer_median"])
    pil = pil_peers.assign(level="pillar", key=pil_peers["pillar"], value=np.nan,
                           peer_median_score=pil_peers["peer_median"])
    frames = [f[PEER_STATS_COLUMNS] for f in (ind, sub, pil) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=PEER_STATS_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def empty_tables(iso3: str, peer_set: str | None = None,
                 peer_set_sizes: Mapping[str, int] | None = None,
                 peer_min_n: int = PEER_MIN_N) -> LandscapeTables:
    """Tables with headers and no rows (but the peer sets): written when a country cannot be analysed."""
    def empty(cols: list[str]) -> pd.DataFrame:
        return pd.DataFrame(columns=cols)

    return LandscapeTables(
        iso3=iso3, peer_set=peer_set, scores=empty(SCORES_COLUMNS),
        pillar_scores=empty(PILLAR_TABLE_COLUMNS),
        sub_pillar_scores=empty(SUB_PILLAR_TABLE_COLUMNS),
        peer_stats=empty(PEER_STATS_COLUMNS), trends=empty(TREND_COLUMNS),
        targets=empty(TARGET_COLUMNS), priorities=empty(PRIORITY_TABLE_COLUMNS), findings=[],
        trend_lines=empty(TREND_LINE_COLUMNS), strip=empty(STRIP_COLUMNS),
        peer_set_sizes=dict(peer_set_sizes or {}), peer_min_n=peer_min_n,
    )


def country_landscape(
    world: WorldScores,
    panel: pd.DataFrame,
    iso3: str,
    peer_sets: Mapping[str, Sequence[str]],
    *,
    national_targets: Iterable[Any] = (),
    priorities: Iterable[Any] = (),
    primary_peer_set: str | None = None,
    country_name: str | None = None,
    min_trend_points: int = 3,
    peer_min_n: int = PEER_MIN_N,
    verdicts: pd.DataFrame | None = None,
) -> LandscapeTables:
    """All landscape tables of one country.

    Args:
        world: the all-country scores (:func:`world_scores`, cached by :func:`p2c_research.steps.scores`).
        panel: the tidy panel (for the in-window series behind the trends); when it
            carries the quality screen's columns, trends use only the rows the screen
            allows (:func:`p2c_research.analyses.quality.trend_rows`) and the flags
            are listed in ``quality``.
        iso3: the country.
        peer_sets: label -> member ISO3 codes (``params.resolve_peer_sets``).
        national_targets: ``params.NationalTarget`` objects (indicator, value, year, source).
        priorities: ``params.Priority`` objects, scored with :func:`priority_scores`.
        primary_peer_set: the set shown in the single-peer columns (default: the first).
        country_name: used in the findings (default: the code).
        min_trend_points: fewest in-window observations for a trend.
        peer_min_n: fewest peers with a value for a percentile (params
            ``analysis.peer_min_n``); below it the percentile is NaN, ``peer_n`` kept.
        verdicts: the country's benchmark verdicts
            (:func:`p2c_research.analyses.verdicts.country_verdicts`), for the findings.

    Raises:
        NoDataError: the country has no value for any scored indicator, in the
            window or before it.
    """
    meta = world.meta
    own = world.indicators[world.indicators["iso3"] == iso3]
    if own.empty:
        start, end = world.window
        raise NoDataError(
            f"{country_name or iso3} ({iso3}) has no value for any of the {len(meta)} scored "
            f"indicators of the catalog in this data, neither in {start}-{end} nor earlier, so "
            "no landscape can be computed. Try the processed real data (data = 'processed') "
            "if it has been built, or check the country code."
        )
    if primary_peer_set is None or primary_peer_set not in peer_sets:
        primary_peer_set = choose_primary_peer_set(peer_sets)
    membership = peer_membership(peer_sets, iso3)
    if membership.empty:
        membership = pd.DataFrame({"iso3": pd.Series([], dtype=object),
                                   "peer_set": pd.Series([], dtype=object),
                                   "peer": pd.Series([], dtype=object)})
    ind_peers = mask_thin_percentiles(indicator_peer_stats(world, membership), peer_min_n)
    sub_peers = mask_thin_percentiles(level_peer_stats(world, membership, "sub_pillar"),
                                      peer_min_n)
    pil_peers = mask_thin_percentiles(level_peer_stats(world, membership, "pillar"), peer_min_n)

    own_panel = panel[panel["iso3"] == iso3]
    screened = "quality" in own_panel.columns
    series = window_series(own_panel, meta, world.window, [iso3])
    if screened:
        # Stale values may inform a trend (it looks back over the window by design).
        usable = trend_rows(own_panel, TREND_EXCLUDED - {"stale"})
        trend_series = series.merge(usable[["iso3", "indicator", "year"]],
                                    on=["iso3", "indicator", "year"])
    else:
        trend_series = series
    shares = meta.loc[meta["bounded_share"].astype(bool), "indicator"].tolist()
    trends = indicator_trends(trend_series, min_points=min_trend_points, meta=meta,
                              bounded=shares)
    latest = own[~own["stale"]]
    targets = targets_table(iso3, latest, trends, meta, target_rows(meta, national_targets),
                            bounded=shares)

    country = world.country(iso3)
    pillar_scores = _level_table(country["pillars"], pil_peers, ["pillar"], primary_peer_set,
                                 PILLAR_TABLE_COLUMNS)
    sub_pillar_scores = _level_table(country["sub_pillars"], sub_peers, ["pillar", "sub_pillar"],
                                     primary_peer_set, SUB_PILLAR_TABLE_COLUMNS)

    prio_items = list(getattr(priorities, "items", priorities))
    prio = pd.DataFrame(columns=PRIORITY_TABLE_COLUMNS)
    if prio_items:
        titles = {p.id: p.title for p in prio_items}
        notes = {p.id: getattr(p, "measurement_note", "") for p in prio_items}
        prio = priority_scores(world, prio_items)
        prio = prio[prio["iso3"] == iso3].assign(
            title=lambda f: f["priority_id"].map(titles),
            measurement_note=lambda f: f["priority_id"].map(notes))
        prio = prio[PRIORITY_TABLE_COLUMNS].reset_index(drop=True)

    used = own[["indicator", "quality", "stale"]]
    flagged = set(used.loc[(used["quality"] != "") | used["stale"], "indicator"])
    quality = _quality_table(own_panel, own, world.window, meta) if screened else \
        pd.DataFrame(columns=QUALITY_TABLE_COLUMNS)
    findings = key_findings(
        country_name or iso3, pillar_scores, targets, trends, meta,
        peer_set=primary_peer_set or "no peer set", coverage_threshold=world.coverage_threshold,
        window=world.window, verdicts=verdicts, flagged=flagged)

    strip = pd.DataFrame(columns=STRIP_COLUMNS)
    if primary_peer_set is not None:
        peers = peer_scores_long(world, peer_sets[primary_peer_set]).assign(role="peer")
        mine = peer_scores_long(world, [iso3]).assign(role="country")
        strip = pd.concat([peers, mine], ignore_index=True)[STRIP_COLUMNS]

    return LandscapeTables(
        iso3=iso3,
        peer_set=primary_peer_set,
        scores=_scores_table(iso3, world, ind_peers, targets, primary_peer_set),
        pillar_scores=pillar_scores,
        sub_pillar_scores=sub_pillar_scores,
        peer_stats=_peer_stats_table(ind_peers, sub_peers, pil_peers, meta),
        trends=trends.merge(meta[["indicator", "name", "pillar"]], on="indicator", how="left"),
        targets=targets,
        priorities=prio,
        findings=findings,
        trend_lines=trend_lines(series, trends)[TREND_LINE_COLUMNS],
        quality=quality,
        strip=strip,
        peer_set_sizes={label: len([m for m in members if m != iso3])
                        for label, members in peer_sets.items()},
        peer_min_n=peer_min_n,
    )
