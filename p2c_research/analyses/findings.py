"""Key findings: a few plain sentences generated from the landscape tables.

Each sentence carries the table and the row key it was read from, so a
reviewer can check every number against ``OUT/<ISO3>/tables/<table>.csv``.
The sentences cover the pillar that ranks best and lowest *relative to
peers* (a peer percentile, said as such and placed against the peer median,
not the highest score), the biggest
gaps to target, key indicators below what income predicts (the verdict
engine's "below" or "well below"), the fastest and slowest trends, and any
pillar that could not be scored. No finding rests on a value the quality
screen flagged: such indicators are left out of the target, trend and
benchmark sentences (the "Data quality" section lists them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from p2c_research.catalog import PILLAR_LABELS
from p2c_research.textfmt import sig

FINDING_COLUMNS = ["text", "table", "key"]
MAX_FINDINGS = 8
#: A trend slower than this (score points a year) is not news in either direction.
MIN_SCORE_SLOPE = 0.1


@dataclass(frozen=True)
class Finding:
    """One plain-language sentence and the table row it derives from."""

    text: str
    table: str
    key: str


def fmt_number(x: float) -> str:
    """A number as a reader wants it (:func:`p2c_research.textfmt.sig`)."""
    return sig(x)


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


def peer_position(percentile: float) -> str:
    """Where a peer percentile places the country, in words: the best of three pillars
    can still sit at the peer median, and the sentence has to say so."""
    if percentile < 25:
        return "in the bottom quarter of its peers"
    if percentile < 45:
        return "below the peer median"
    if percentile <= 55:
        return "about at the peer median"
    if percentile <= 75:
        return "above the peer median"
    return "in the top quarter of its peers"


def _pillar_findings(country: str, pillars: pd.DataFrame, peer_set: str) -> list[Finding]:
    """Highest and lowest pillar relative to peers (by peer percentile, said as such)."""
    ranked = pillars[pillars["sufficient"] & pillars["peer_percentile"].notna()]
    ranked = ranked.sort_values(["peer_percentile", "score"], ascending=False)
    thin = _thin_peer_finding(country, pillars, peer_set) if "peer_n" in pillars else []
    out: list[Finding] = []
    if ranked.empty:
        return thin
    best = ranked.iloc[0]
    if len(ranked) >= 2:
        lead = (f"Relative to its peers ({peer_set}), {country} ranks best in "
                f"{_pillar(best['pillar'])}, {peer_position(best['peer_percentile'])}")
    else:
        lead = (f"Relative to its peers ({peer_set}), {country}'s one pillar "
                f"{'ranked against enough peers' if thin else 'with a peer comparison'} is "
                f"{_pillar(best['pillar'])}")
    out.append(Finding(
        f"{lead}: better than {best['peer_percentile']:.0f}% of peers, with a score of "
        f"{fmt_number(best['score'])} of 100 (peer median {fmt_number(best['peer_median'])}).",
        "pillar_scores", str(best["pillar"])))
    if len(ranked) >= 2:
        worst = ranked.iloc[-1]
        out.append(Finding(
            f"Relative to the same peers it ranks lowest in {_pillar(worst['pillar'])}, "
            f"{peer_position(worst['peer_percentile'])}: "
            f"better than {worst['peer_percentile']:.0f}% of peers, score "
            f"{fmt_number(worst['score'])} (peer median {fmt_number(worst['peer_median'])}).",
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
        out.append(Finding(
            f"{lead} to a {kind} target: {names.get(row.indicator, row.indicator)} is "
            f"{_with_unit(row.value, units.get(row.indicator, ''))} ({row.year}) against "
            f"{_with_unit(row.target, units.get(row.indicator, ''))} by {row.target_year} "
            f"(band {row.band}, {row.progress:.0f}% of the way); {target_outlook(row)}.",
            "targets", f"{row.indicator}|{row.target_kind}"))
    return out


def target_outlook(row) -> str:
    """The projection in words, from the same numbers that set the status (never contradicts it)."""
    status = getattr(row, "status", None)
    reached = getattr(row, "year_reached", np.nan)
    low = getattr(row, "years_low", np.nan)
    high = getattr(row, "years_high", np.nan)
    year = getattr(row, "year", np.nan)
    if status == "met":
        return "the target is met"
    if status not in ("on track", "not on track"):
        return "there are too few clean data points for a trend"
    if not np.isfinite(reached):
        return "the recent trend does not move towards it: not on track"
    span = ""
    if pd.notna(year) and np.isfinite(low):
        first = int(np.ceil(year + low - 1e-9))
        last = (f"{int(np.ceil(year + high - 1e-9))}" if np.isfinite(high)
                else "never at the slowest plausible pace")
        span = f" (range {first} to {last})"
    if status == "on track":
        return f"at the recent trend it is reached by {int(reached)}{span}: on track"
    return (f"at the recent trend it is reached only by {int(reached)}{span}, after "
            f"{row.target_year}: not on track")


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
            f"{row['score_slope']:+.1f} score points a year over its recent clean values "
            f"({row['first_year']}-{row['last_year']}){growth}.",
            "trends", str(row["indicator"]))

    best = t.iloc[-1]
    if best["score_slope"] >= MIN_SCORE_SLOPE:
        out.append(sentence("Fastest improving indicator", best))
    if len(t) >= 2:
        slow = t.iloc[0]
        if slow["score_slope"] <= -MIN_SCORE_SLOPE:
            out.append(sentence("Fastest declining indicator", slow))
    return out


def _benchmark_findings(country: str, verdicts: pd.DataFrame | None, units: dict[str, str],
                        n: int = 3) -> list[Finding]:
    """Key indicators below or well below what income predicts, worst first."""
    if verdicts is None or verdicts.empty:
        return []
    rows = verdicts[verdicts["key"].astype(bool)
                    & verdicts["verdict"].isin(["well below", "below"])]
    rows = rows.sort_values(["perf_z", "indicator"])
    out = []
    for row in rows.head(n).itertuples():
        unit = units.get(row.indicator, "")
        out.append(Finding(
            f"{row.name} in {country} is {row.verdict} what its income predicts: "
            f"{_with_unit(row.actual, unit)} ({int(row.year)}) against an expected "
            f"{_with_unit(row.predicted, unit)} (90% interval {sig(row.pi_low)} to "
            f"{sig(row.pi_high)}, z = {row.perf_z:+.1f}).",
            "verdicts", str(row.indicator)))
    return out


def key_findings(country_name: str, pillars: pd.DataFrame, targets: pd.DataFrame,
                 trends: pd.DataFrame, meta: pd.DataFrame, *, peer_set: str,
                 coverage_threshold: float, window: tuple[int, int],
                 verdicts: pd.DataFrame | None = None,
                 flagged: set[str] | frozenset[str] = frozenset()) -> list[Finding]:
    """Three to seven sentences from the country's tables, each traced to a row.

    Args:
        country_name: the name used in the sentences.
        pillars: the country's pillar rows for ``peer_set`` (``pillar, score,
            coverage, n_present, n_total, sufficient, peer_median, peer_percentile``).
        targets: the country's targets table.
        trends: the country's trends table.
        meta: the scored catalog frame (names and units).
        verdicts: the country's verdicts (:func:`p2c_research.analyses.verdicts.country_verdicts`).
        flagged: indicators whose latest value the quality screen flagged; no
            finding rests on them.
    """
    names = dict(zip(meta["indicator"], meta["name"], strict=True))
    units = dict(zip(meta["indicator"], meta["unit"], strict=True))

    def clean(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or frame.empty:
            return frame
        return frame[~frame["indicator"].isin(set(flagged))]

    pillar_f = _pillar_findings(country_name, pillars, peer_set)
    gap_f = _target_findings(clean(targets), names, units, 2)
    bench_f = _benchmark_findings(country_name, clean(verdicts), units)
    trend_f = _trend_findings(clean(trends), names)
    cover_f = _coverage_findings(pillars, coverage_threshold, window)
    ordered = [*pillar_f, *gap_f[:1], *bench_f, *trend_f, *cover_f[:1], *gap_f[1:],
               *cover_f[1:]]
    return ordered[:MAX_FINDINGS]


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table ``text, table, key`` (for findings.csv)."""
    return pd.DataFrame([asdict(f) for f in findings], columns=FINDING_COLUMNS)
