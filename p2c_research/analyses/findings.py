"""Key findings: a few plain sentences generated from the landscape tables.

Each sentence carries the table and the row key it was read from, so a
reviewer can check every number against ``OUT/<ISO3>/tables/<table>.csv``.
The sentences cover the strongest and weakest pillar against peers, the
biggest gaps to target, the fastest and slowest trends, and any pillar that
could not be scored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from p2c_research.catalog import PILLAR_LABELS

FINDING_COLUMNS = ["text", "table", "key"]
MAX_FINDINGS = 6


@dataclass(frozen=True)
class Finding:
    """One plain-language sentence and the table row it derives from."""

    text: str
    table: str
    key: str


def fmt_number(x: float) -> str:
    """A number as a reader wants it: no spurious decimals, thousands separated."""
    if x is None or not np.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax >= 100 or float(x).is_integer():
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _with_unit(x: float, unit: str) -> str:
    """``57.2% of population``, ``12.5 per 100 people``."""
    sep = "" if unit.startswith("%") else " "
    return f"{fmt_number(x)}{sep}{unit}".strip()


def _pillar(p: str) -> str:
    return PILLAR_LABELS.get(p, p)


def _thin_peer_finding(country: str, pillars: pd.DataFrame, peer_set: str) -> list[Finding]:
    """Scored pillars whose percentile was withheld (too few peers with a score), if any.

    A scored pillar with peers but no percentile can only be one below the
    peer minimum (``peers.mask_thin_percentiles``); saying so keeps the
    reader from taking the missing ranking for missing data.
    """
    thin = pillars[pillars["sufficient"] & pillars["peer_percentile"].isna()
                   & (pillars["peer_n"] > 0)]
    if thin.empty:
        return []
    parts = [f"{_pillar(r.pillar)}, too few peers ({int(r.peer_n)})" for r in thin.itertuples()]
    return [Finding(
        f"{country}'s percentile against {peer_set} is withheld where too few peers have a "
        f"score: {'; '.join(parts)}.", "pillar_scores", str(thin.iloc[0]["pillar"]))]


def _pillar_findings(country: str, pillars: pd.DataFrame, peer_set: str) -> list[Finding]:
    ranked = pillars[pillars["sufficient"] & pillars["peer_percentile"].notna()]
    ranked = ranked.sort_values(["peer_percentile", "score"], ascending=False)
    thin = _thin_peer_finding(country, pillars, peer_set) if "peer_n" in pillars else []
    out: list[Finding] = []
    if ranked.empty:
        return thin
    best = ranked.iloc[0]
    where = ("stands highest in" if len(ranked) >= 2
             else "has one pillar ranked," if thin else "has one scored pillar,")
    out.append(Finding(
        f"Against its peers ({peer_set}), {country} {where} "
        f"{_pillar(best['pillar'])}: score {fmt_number(best['score'])} of 100, better than "
        f"{best['peer_percentile']:.0f}% of peers (peer median {fmt_number(best['peer_median'])}).",
        "pillar_scores", str(best["pillar"])))
    if len(ranked) >= 2:
        worst = ranked.iloc[-1]
        out.append(Finding(
            f"It stands lowest against the same peers in {_pillar(worst['pillar'])}: "
            f"score {fmt_number(worst['score'])}, better than {worst['peer_percentile']:.0f}% "
            f"of peers (peer median {fmt_number(worst['peer_median'])}).",
            "pillar_scores", str(worst["pillar"])))
    return out + thin


def _coverage_findings(pillars: pd.DataFrame, threshold: float, window: tuple[int, int]
                       ) -> list[Finding]:
    out = []
    for row in pillars[~pillars["sufficient"]].itertuples():
        reasons = []
        if row.coverage < threshold:
            reasons.append(f"only {row.n_present} of its {row.n_total} indicators "
                           f"({100 * row.coverage:.0f}%) have a value in {window[0]}-{window[1]}, "
                           f"below the {100 * threshold:.0f}% threshold")
        missing = str(getattr(row, "core_missing", "") or "")
        if missing:
            reasons.append(f"its core is missing ({missing})")
        out.append(Finding(
            f"{_pillar(row.pillar)} is not scored (insufficient data): "
            + "; ".join(reasons or ["no indicator has a value"]) + ".",
            "pillar_scores", str(row.pillar)))
    return out


def _target_findings(targets: pd.DataFrame, names: dict[str, str], units: dict[str, str],
                     n: int) -> list[Finding]:
    open_gaps = targets[targets["value"].notna() & (targets["gap_to_target"] > 0)]
    open_gaps = open_gaps.sort_values(["progress", "indicator"])
    out = []
    for k, row in enumerate(open_gaps.head(n).itertuples()):
        lead = "Biggest gap" if k == 0 else "Next biggest gap"
        kind = "UMC" if row.target_kind == "UMC" else "national"
        if row.status == "on track":
            trend = f"at the current trend it is reached around {row.year_reached:.0f}"
        elif row.status == "not on track" and np.isfinite(row.years_to_target):
            trend = (f"at the current trend it is reached only around {row.year_reached:.0f}, "
                     f"after {row.target_year}: not on track")
        elif row.status == "not on track":
            trend = "the current trend does not move towards it: not on track"
        else:
            trend = "there are too few data points for a trend"
        out.append(Finding(
            f"{lead} to a {kind} target: {names.get(row.indicator, row.indicator)} is "
            f"{_with_unit(row.value, units.get(row.indicator, ''))} ({row.year}) against "
            f"{_with_unit(row.target, units.get(row.indicator, ''))} by {row.target_year} "
            f"(band {row.band}, {row.progress:.0f}% of the way); {trend}.",
            "targets", f"{row.indicator}|{row.target_kind}"))
    return out


def _trend_findings(trends: pd.DataFrame, names: dict[str, str]) -> list[Finding]:
    t = trends[trends["score_slope"].notna()].sort_values(["score_slope", "indicator"])
    out: list[Finding] = []
    if t.empty:
        return out

    def sentence(prefix: str, row: pd.Series) -> Finding:
        growth = (f", compound growth {row['cagr_pct']:+.1f}% a year"
                  if pd.notna(row["cagr_pct"]) else "")
        return Finding(
            f"{prefix}: {names.get(row['indicator'], row['indicator'])}, "
            f"{row['score_slope']:+.1f} score points a year over "
            f"{row['first_year']}-{row['last_year']}{growth}.",
            "trends", str(row["indicator"]))

    out.append(sentence("Fastest improving indicator", t.iloc[-1]))
    if len(t) >= 2:
        slow = t.iloc[0]
        label = "Fastest declining indicator" if slow["score_slope"] < 0 else \
            "Slowest improving indicator"
        out.append(sentence(label, slow))
    return out


def key_findings(country_name: str, pillars: pd.DataFrame, targets: pd.DataFrame,
                 trends: pd.DataFrame, meta: pd.DataFrame, *, peer_set: str,
                 coverage_threshold: float, window: tuple[int, int]) -> list[Finding]:
    """Three to six sentences from the country's tables, each traced to a row.

    Args:
        country_name: the name used in the sentences.
        pillars: the country's pillar rows for ``peer_set`` (``pillar, score,
            coverage, n_present, n_total, sufficient, peer_median, peer_percentile``).
        targets: the country's targets table.
        trends: the country's trends table.
        meta: the scored catalog frame (names and units).
    """
    names = dict(zip(meta["indicator"], meta["name"], strict=True))
    units = dict(zip(meta["indicator"], meta["unit"], strict=True))
    pillar_f = _pillar_findings(country_name, pillars, peer_set)
    gap_f = _target_findings(targets, names, units, 2)
    trend_f = _trend_findings(trends, names)
    cover_f = _coverage_findings(pillars, coverage_threshold, window)
    ordered = [*pillar_f, *gap_f[:1], *trend_f, *cover_f[:1], *gap_f[1:], *cover_f[1:]]
    return ordered[:MAX_FINDINGS]


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table ``text, table, key`` (for findings.csv)."""
    return pd.DataFrame([asdict(f) for f in findings], columns=FINDING_COLUMNS)
