"""A data-quality screen of the tidy panel, run before any analysis.

Published series carry values that no analysis should take at face value: a
survey year that drops far below its neighbours, a level shift when a survey
or a source changes, a constant carried forward for decades, a figure from a
decade ago reported as current. The screen marks them per economy and
indicator, so scores, trends, targets and findings can apply one rule each,
and every report can list what was set aside and why.

Every row of the panel gets a ``quality`` string (``""`` when clean, else a
``"; "``-joined subset of :data:`FLAGS`) and a ``quality_note`` (one sentence
with the rule and the numbers). The flags, in the order they are written:

* **outlier**: a spike that returns. The point departs from the robust trend
  of its neighbours by more than ``outlier_k`` robust scales. The trend is
  Siegel's repeated-median line through the four nearest observations (two on
  each side, more on one side next to an end), which one wild neighbour
  cannot tilt; the scale is ``1.4826 * median |residual|`` over the series'
  interior points, floored at ``outlier_floor_pp`` (shares) or
  ``outlier_floor_log`` (other indicators). The point also lies beyond both
  immediate neighbours, by more than ``outlier_near_fraction`` of the limit
  from each (a step to a new level is not a spike). Of two adjacent
  candidates only the larger departure is flagged. Series need
  ``outlier_min_points`` observations.
* **jump**: an extreme change between consecutive observations, once
  outliers are set aside; the later point is flagged. Extreme twice over:
  for the indicator, the change per year of gap lies more than ``jump_z``
  robust deviations (1.4826 x MAD) from the median of all economies'
  non-zero annual changes of that indicator; and for the series, the value
  lands more than ``jump_z_series`` deviations (per year, on the larger of
  the series' and the indicator's spread of changes) from where the series'
  own course led: the repeated-median line through up to ``course_points``
  earlier observations. The second test keeps the ordinary swings of a noisy
  survey series, the steady years of a fast roll-out and the way back from a
  dip from being jumps. An extreme change that is not a break is a jump.
* **break**: a level shift. An extreme change that runs against the
  direction of the series' course before it (a flat course has none, so
  any extreme change runs against it), or a change beyond
  ``break_z_source`` on both counts where the ``source`` code changes, and
  that holds: the next ``break_persist_points`` observations stay on the new
  side of the midpoint between the old and the new value, or the point is
  the series' latest. (For a series' first changes the course comes from
  the observations after; a series of two has no course, so its extreme
  change is a jump.) The first point of the new level is flagged;
  :func:`after_last_break` marks the rows a trend may use.
* **imputed**: a run of at least ``run_min_length`` consecutive identical
  observations (relative tolerance ``run_rel_tol``); the repeats (second
  onward) are flagged. Runs at a natural bound are real (0 anywhere, 100 for
  a bounded share: saturated coverage) and are not flagged.
* **stale**: the year is before ``reference_year - max_age``.

**Scales.** Bounded shares (catalog ``bounded_share``) are screened in
percentage points, every other indicator on ``log(max(value, 0) + offset)``,
so a change is a log ratio. The offset is the catalog's lower goalpost for
log-scaled indicators and ``log_offset_fraction`` of the goalpost range for
linear ones; it keeps values that are negligible for the indicator (a
thousandth of a patent per million people) from producing huge ratios.
Percentage points rather than logits for shares: the logit stretches exactly
the regions where published shares are rounded or carried forward (99.0 to
99.9% coverage is as long a logit step as 50 to 90%; so is adoption going
from 0.1 to 1%), while a share's score is linear in percentage points. A non-share is screened on the
log scale because per-capita counts and prices grow and vary in proportion to
their level.

**Which indicators.** Every catalog indicator is screened, context
indicators too (GDP per capita is the benchmark regressor; population is a
denominator); a consumer that cares only about scored indicators filters on
the catalog. An indicator id missing from the catalog gets only the rules
that need no scale: imputed (bound: 0) and stale.

**How the flags are used** (the rules the analyses apply, via the helpers):

* Scores (:func:`usable_for_score`, :func:`latest_for_score`): outlier and
  imputed values are never used; the latest value without either flag is used
  instead. When that value is stale it is shown but not scored. Jump and break
  values are scored (they may be real) and keep their flag in every table.
* Trends and target projections (:func:`usable_for_trend`,
  :func:`trend_rows`): only values without outlier, imputed, jump or stale
  flags, and only from the series' last break onward (the break point itself
  starts the new level and is used).
* Findings (:func:`usable_for_findings`): only values without any flag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from p2c_research.catalog import Catalog
from p2c_research.errors import DataError

FLAGS: tuple[str, ...] = ("outlier", "jump", "break", "imputed", "stale")
PANEL_COLUMNS: tuple[str, ...] = ("iso3", "indicator", "year", "value", "source")
QUALITY_COLUMNS: tuple[str, ...] = ("quality", "quality_note")
SEPARATOR = "; "

#: Flags that keep a value out of a trend or a target projection.
TREND_EXCLUDED: frozenset[str] = frozenset({"outlier", "imputed", "jump", "stale"})
#: Flags that keep a value out of a score.
SCORE_EXCLUDED: frozenset[str] = frozenset({"outlier", "imputed", "stale"})
#: Flags that make a value stand aside in favour of an older clean one when scoring.
SCORE_SKIPPED: frozenset[str] = frozenset({"outlier", "imputed"})

_NOTE_SPLIT = re.compile(rf"{SEPARATOR}(?=(?:{'|'.join(FLAGS)}): )")
_MAD_TO_SD = 1.4826  # 1.4826 * MAD estimates the standard deviation of a normal sample


@dataclass(frozen=True)
class QualityRules:
    """The thresholds of the screen, calibrated on the embedded WDI + ITU sample."""

    max_age: int = 5
    """A value from before ``reference_year - max_age`` is stale: on a digital indicator a
    figure older than five years no longer describes the present (KHM's Internet use went
    from 32% to 57% in 2016-2022)."""

    outlier_k: float = 4.0
    """An outlier departs from its neighbours' robust trend by more than this many robust
    scales: 4 keeps the panel rate near 0.3% while catching KHM internet 2015."""

    outlier_near_fraction: float = 0.75
    """...and from each immediate neighbour by more than this share of that limit, so a point
    at the start of a new level (a step, not a spike) is not an outlier."""

    outlier_neighbours: int = 2
    """Observations on each side that define the local trend (more on one side next to an
    end, so there are always twice this many): two keeps the trend local, and with four a
    repeated-median line outvotes one bad neighbour."""

    outlier_min_points: int = 5
    """A series needs this many observations before any point can be an outlier: fewer give
    under three residuals to estimate the series' scale from."""

    outlier_floor_pp: float = 1.0
    """Floor of a share's robust scale, in percentage points: smooth modelled series (ILO's
    labour participation, interpolated coverage) have a scale near zero and would otherwise
    flag wiggles of a point or two."""

    outlier_floor_log: float = 0.05
    """Floor of a non-share's robust scale, in log units (about 5%): interpolated series
    (population, GDP) would otherwise flag ordinary revisions."""

    jump_z: float = 5.0
    """An extreme change lies more than this many robust deviations from the indicator's
    median annual change across all economies..."""

    jump_z_series: float = 5.0
    """...and lands more than this many from where the series' own course led (per year, on
    the larger of the series' and the indicator's spread of changes): without it, every
    swing of a noisy survey series (KHM electricity access), every year of a fast roll-out
    and the way back from a dip was extreme (3% of the panel against under 1%)."""

    course_points: int = 4
    """Observations before a change that give the course it is judged against; with four,
    one odd value among them cannot turn the direction."""

    break_z_source: float = 3.0
    """Where the ``source`` code changes, a persistent change beyond this many robust
    deviations is already a break: a new publisher or series is a likely cause."""

    change_floor_pp: float = 0.5
    """Floor of the cross-country scale of annual changes of a share, in percentage points a
    year, for indicators whose changes are mostly tiny."""

    change_floor_log: float = 0.02
    """Floor of the cross-country scale of annual changes of a non-share, in log units a
    year (about 2%)."""

    break_persist_points: int = 2
    """A break persists when this many following observations (or all there are) stay on
    the new side of the midpoint between the old and the new level."""

    run_min_length: int = 4
    """At least this many consecutive identical observations make a run of imputed values:
    on the sample, runs of 2 and 3 (978 and 259) fall off fast, as chance repeats of
    rounded values do; from 4 on the counts flatten (125, 103, 46, 33, 32), the tail of
    carried-forward values."""

    run_rel_tol: float = 1e-9
    """Two values are identical when they differ by at most this fraction of the larger."""

    log_offset_fraction: float = 0.01
    """Offset of the log scale of a linear non-share, as a fraction of its goalpost range:
    differences below 1% of the range do not register as large ratios."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"QualityRules.{field.name} must be a finite number >= 0, "
                                 f"got {value!r}")
        if self.outlier_neighbours < 1 or self.run_min_length < 2 or self.outlier_min_points < 3:
            raise ValueError("QualityRules: outlier_neighbours >= 1, run_min_length >= 2 and "
                             "outlier_min_points >= 3 are needed for the rules to mean anything")


#: The default thresholds (a frozen dataclass, safe to share as a default argument).
DEFAULT_RULES = QualityRules()


def flag_rules(rules: QualityRules = DEFAULT_RULES) -> dict[str, str]:
    """One documented sentence per flag, with the thresholds of ``rules`` (for reports)."""
    return {
        "outlier": (
            f"A value that departs from the robust trend of its neighbours (the repeated-median "
            f"line through the {2 * rules.outlier_neighbours} nearest observations) by more "
            f"than {rules.outlier_k:g} robust scales of its series (1.4826 x median absolute "
            f"residual, at least {rules.outlier_floor_pp:g} percentage point for shares or "
            f"{rules.outlier_floor_log:g} in log units otherwise) and lies beyond both "
            f"neighbouring values by more than {rules.outlier_near_fraction:g} of that limit: "
            f"a spike that returns (series of {rules.outlier_min_points}+ observations)."
        ),
        "jump": (
            f"A change between consecutive observations (per year of gap; percentage points "
            f"for shares, log ratio otherwise) more than {rules.jump_z:g} robust deviations "
            f"(1.4826 x MAD) from the median change of the same indicator across all "
            f"economies, landing more than {rules.jump_z_series:g} deviations from where the "
            f"series' own course (repeated-median line through up to {rules.course_points} "
            f"earlier observations) led, and that is not a break; outliers are set aside "
            f"first, and the later value is flagged."
        ),
        "break": (
            f"A level shift: a change as extreme as a jump that runs against the direction of "
            f"the series' course before it (any direction, if that course is flat), or one "
            f"beyond {rules.break_z_source:g} robust deviations on both counts where the source "
            f"code changes, and whose new level holds for the next "
            f"{rules.break_persist_points} observations (or is the latest value); the first "
            f"value of the new level is flagged, and trends use only values from it onward."
        ),
        "imputed": (
            f"A repeat within a run of at least {rules.run_min_length} consecutive identical "
            f"values (relative tolerance {rules.run_rel_tol:g}): a value carried forward or "
            f"imputed, not measured. Runs at 0, or at 100 for a bounded share, are not flagged."
        ),
        "stale": (
            f"A value from more than {rules.max_age} years before the reference year "
            f"(year < reference year - {rules.max_age})."
        ),
    }


#: The rule of each flag with the default thresholds, as the reports print them.
FLAG_RULES: dict[str, str] = flag_rules()


# --------------------------------------------------------------------------- the screen
def screen_panel(
    panel: pd.DataFrame,
    catalog: Catalog,
    reference_year: int,
    rules: QualityRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Flag every value of the tidy panel that an analysis should not take at face value.

    Args:
        panel: tidy rows ``iso3, indicator, year, value, source`` (other columns are kept),
            at most one row per economy, indicator and year.
        catalog: the indicator catalog (scale of each indicator; shares and bounds).
        reference_year: the year the analysis speaks for; values older than
            ``reference_year - rules.max_age`` are stale.
        rules: the thresholds (documented on :class:`QualityRules`).

    Returns:
        The panel's rows, in the input order and index, every input column unchanged,
        plus ``quality`` (``""`` when clean, else a ``"; "``-joined subset of
        :data:`FLAGS`) and ``quality_note`` (one sentence per flagged row giving the rule
        and the numbers, e.g. ``"outlier: 6.433 against 14.0 (2014) and 32.4 (2016)
        around it, ..."``).

    Raises:
        DataError: a required column is missing, the panel is already screened, or a row
            is duplicated.
    """
    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise DataError(f"screen_panel: the panel lacks column(s) {missing}; it needs the tidy "
                        f"shape {list(PANEL_COLUMNS)}")
    clash = [c for c in QUALITY_COLUMNS if c in panel.columns]
    if clash:
        raise DataError(f"screen_panel: the panel already has {clash}; screen the raw panel, "
                        "not a screened one")
    n = len(panel)
    out = panel.copy()
    if n == 0:
        out["quality"] = pd.Series([], index=out.index, dtype="str")
        out["quality_note"] = pd.Series([], index=out.index, dtype="str")
        return out

    work = _sorted_series(panel, catalog, rules)
    if work.duplicated.any():
        dup = work.frame.loc[work.duplicated, ["iso3", "indicator", "year"]].head(5)
        raise DataError("screen_panel: the panel has more than one row for the same economy, "
                        "indicator and year, e.g. "
                        + ", ".join(f"{r.iso3} {r.indicator} {r.year}" for r in dup.itertuples())
                        + "; keep one value per year (the preferred source) before screening")

    notes: dict[str, list[str | None]] = {}  # per flag, the words of each flagged row
    flags = np.zeros((n, len(FLAGS)), dtype=bool)
    col = {f: k for k, f in enumerate(FLAGS)}

    outlier, outlier_notes = _outliers(work, rules)
    flags[:, col["outlier"]] = outlier
    notes["outlier"] = outlier_notes
    jump, brk, change_notes = _jumps_and_breaks(work, outlier, rules)
    flags[:, col["jump"]] = jump
    flags[:, col["break"]] = brk
    notes["jump"] = change_notes["jump"]
    notes["break"] = change_notes["break"]
    imputed, imputed_notes = _imputed(work, rules)
    flags[:, col["imputed"]] = imputed
    notes["imputed"] = imputed_notes
    cutoff = reference_year - rules.max_age
    stale = work.year < cutoff
    flags[:, col["stale"]] = stale

    # Most flagged rows are only stale: their words come from a table by year; the rows
    # with another flag (a few thousand) are assembled one by one.
    code = flags.astype(np.int64) @ (1 << np.arange(len(FLAGS)))
    labels = {c: SEPARATOR.join(f for k, f in enumerate(FLAGS) if c >> k & 1)
              for c in np.unique(code).tolist()}
    quality = pd.Series(code).map(labels).to_numpy(dtype=object)
    stale_words = {y: f"stale: {y} is before {cutoff} (reference year {reference_year} minus "
                      f"{rules.max_age} years)" for y in np.unique(work.year[stale]).tolist()}
    quality_note = np.full(n, "", dtype=object)
    only_stale = code == 1 << col["stale"]
    if only_stale.any():
        quality_note[only_stale] = (pd.Series(work.year[only_stale]).map(stale_words)
                                    + ".").to_numpy(dtype=object)
    for i in np.flatnonzero((code != 0) & ~only_stale):
        words = [str(notes[f][i]) for f in FLAGS if f != "stale" and flags[i, col[f]]]
        if stale[i]:
            words.append(stale_words[int(work.year[i])])
        quality_note[i] = SEPARATOR.join(words) + "."

    # Back to the input order: work row i is input position work.position[i].
    by_position_quality = np.empty(n, dtype=object)
    by_position_note = np.empty(n, dtype=object)
    by_position_quality[work.position] = quality
    by_position_note[work.position] = quality_note
    out["quality"] = pd.Series(by_position_quality, index=out.index, dtype="str")
    out["quality_note"] = pd.Series(by_position_note, index=out.index, dtype="str")
    return out


# --------------------------------------------------------------------------- helpers for consumers
def has_flag(quality: pd.Series, flag: str) -> pd.Series:
    """True where ``quality`` carries ``flag`` (one of :data:`FLAGS`)."""
    if flag not in FLAGS:
        raise ValueError(f"unknown quality flag {flag!r}; the flags are {list(FLAGS)}")
    return _any_flag(quality, frozenset({flag}))


def _any_flag(quality: pd.Series, flags: frozenset[str]) -> pd.Series:
    """True where ``quality`` carries any of ``flags``."""
    if not flags:
        return pd.Series(False, index=quality.index, dtype=bool)
    pattern = rf"(?:^|{SEPARATOR})(?:{'|'.join(sorted(flags))})(?:{SEPARATOR}|$)"
    text = quality.astype(object).fillna("").astype(str)
    return text.str.contains(pattern, regex=True).astype(bool)


def _without(quality: pd.Series, excluded: frozenset[str]) -> pd.Series:
    return ~_any_flag(quality, excluded)


def usable_for_trend(quality: pd.Series) -> pd.Series:
    """True where a value may enter a trend or a target projection (no outlier, imputed,
    jump or stale flag). Values before a break are excluded too: see :func:`trend_rows`."""
    return _without(quality, TREND_EXCLUDED)


def usable_for_score(quality: pd.Series) -> pd.Series:
    """True where a value may be scored: no outlier, imputed or stale flag (jump and break
    values are scored, since they may be real, and keep their flag)."""
    return _without(quality, SCORE_EXCLUDED)


def usable_for_findings(quality: pd.Series) -> pd.Series:
    """True where a value may support a finding: no flag at all."""
    return quality.astype(object).fillna("").astype(str).eq("").astype(bool)


def after_last_break(screened: pd.DataFrame) -> pd.Series:
    """True for the rows at or after their series' last break (every row of a series
    without a break): a trend drawn across a level shift measures the shift, not the trend."""
    is_break = has_flag(screened["quality"], "break").to_numpy()
    break_year = screened["year"].where(is_break)
    last_break = break_year.groupby([screened["iso3"], screened["indicator"]]).transform("max")
    return (last_break.isna() | (screened["year"] >= last_break)).astype(bool)


def trend_rows(screened: pd.DataFrame, excluded: frozenset[str] = TREND_EXCLUDED) -> pd.DataFrame:
    """The rows a trend or a target projection may use: no flag in ``excluded`` and at or
    after the series' last break.

    Args:
        screened: the output of :func:`screen_panel` (or any subset of its rows with
            whole series).
        excluded: flags that keep a value out (default :data:`TREND_EXCLUDED`); a trend
            over a longer history than ``max_age`` years passes ``TREND_EXCLUDED - {"stale"}``.
    """
    keep = _without(screened["quality"], frozenset(excluded)) & after_last_break(screened)
    return screened[keep.to_numpy()]


def latest_for_score(screened: pd.DataFrame) -> pd.DataFrame:
    """Per economy and indicator, the value a score uses and whether it may be scored.

    The latest row without an outlier or imputed flag (those stand aside for the latest
    clean value); ``scored`` is False when that value is stale: it is shown, not scored.
    Rows keep their ``quality`` and ``quality_note``, so a jump or a break stays marked.
    Restrict ``screened`` to the analysis window first if the score has one.
    """
    eligible = screened[_without(screened["quality"], SCORE_SKIPPED).to_numpy()]
    latest = (eligible.sort_values(["iso3", "indicator", "year"], kind="stable")
              .drop_duplicates(["iso3", "indicator"], keep="last"))
    return latest.assign(scored=~has_flag(latest["quality"], "stale").to_numpy()).reset_index(drop=True)


def flag_table(screened: pd.DataFrame, rules: QualityRules | None = None) -> pd.DataFrame:
    """Every flag as one row ``iso3, indicator, year, value, source, flag, rule, note``,
    for a report's "Data quality" section (a row with two flags gives two rows)."""
    rule_text = flag_rules(rules) if rules is not None else FLAG_RULES
    flagged = screened[~usable_for_findings(screened["quality"]).to_numpy()]
    columns = ["iso3", "indicator", "year", "value", "source", "flag", "rule", "note"]
    if flagged.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for rec in flagged.itertuples(index=False):
        parts = _NOTE_SPLIT.split(str(rec.quality_note).removesuffix("."))
        notes = {part.split(":", 1)[0]: part for part in parts}
        for flag in str(rec.quality).split(SEPARATOR):
            rows.append((rec.iso3, rec.indicator, rec.year, rec.value, rec.source, flag,
                         rule_text[flag], notes.get(flag, flag) + "."))
    table = pd.DataFrame(rows, columns=columns)
    order = {f: k for k, f in enumerate(FLAGS)}
    return (table.assign(_o=table["flag"].map(order))
            .sort_values(["iso3", "indicator", "_o", "year"], kind="stable")
            .drop(columns="_o").reset_index(drop=True))


def flag_rates(screened: pd.DataFrame) -> pd.Series:
    """Share of all rows carrying each flag (a sanity figure for a data vintage)."""
    return pd.Series({f: float(has_flag(screened["quality"], f).mean()) if len(screened)
                      else 0.0 for f in FLAGS}, name="share_flagged")


# --------------------------------------------------------------------------- internals
@dataclass
class _Series:
    """The panel sorted by economy, indicator and year, as arrays, with each row's scale."""

    frame: pd.DataFrame  # sorted rows (iso3, indicator, year, value, source)
    position: np.ndarray  # input position of each sorted row
    series: np.ndarray  # integer id of the economy-indicator series
    year: np.ndarray  # int
    value: np.ndarray  # float
    source: np.ndarray  # integer code of the source string
    z: np.ndarray  # value on the screening scale (NaN where it has none)
    share: np.ndarray  # bool: the indicator is a bounded share (percentage points)
    offset: np.ndarray  # log offset (non-shares)
    known: np.ndarray  # bool: the indicator is in the catalog
    indicator: np.ndarray  # integer code of the indicator
    duplicated: np.ndarray  # bool: same series and year as the previous row


def _sorted_series(panel: pd.DataFrame, catalog: Catalog, rules: QualityRules) -> _Series:
    iso_codes, _ = pd.factorize(panel["iso3"], sort=True)
    ind_codes, ind_names = pd.factorize(panel["indicator"], sort=True)
    year = panel["year"].to_numpy(dtype=np.int64)
    order = np.lexsort((year, ind_codes, iso_codes))
    iso_s, ind_s, year_s = iso_codes[order], ind_codes[order], year[order]
    new_series = np.ones(len(order), dtype=bool)
    new_series[1:] = (iso_s[1:] != iso_s[:-1]) | (ind_s[1:] != ind_s[:-1])
    series = np.cumsum(new_series) - 1
    duplicated = np.zeros(len(order), dtype=bool)
    duplicated[1:] = ~new_series[1:] & (year_s[1:] == year_s[:-1])

    share_by_ind = np.zeros(len(ind_names), dtype=bool)
    offset_by_ind = np.zeros(len(ind_names))
    known_by_ind = np.zeros(len(ind_names), dtype=bool)
    for k, name in enumerate(ind_names):
        if name not in catalog:
            continue
        ind = catalog[name]
        known_by_ind[k] = True
        share_by_ind[k] = ind.bounded_share
        if ind.scaling == "log":
            offset_by_ind[k] = ind.goalposts.lower
        else:
            offset_by_ind[k] = rules.log_offset_fraction * (ind.goalposts.upper - ind.goalposts.lower)
    share, offset, known = share_by_ind[ind_s], offset_by_ind[ind_s], known_by_ind[ind_s]

    value = panel["value"].to_numpy(dtype=float, na_value=np.nan)[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_value = np.log(np.clip(value, 0.0, None) + offset)
    z = np.where(share, value, log_value)
    z[~known | ~np.isfinite(z)] = np.nan
    source_codes, _ = pd.factorize(panel["source"].astype(object).fillna(""))
    frame = panel[list(PANEL_COLUMNS)].iloc[order].reset_index(drop=True)
    return _Series(frame=frame, position=order, series=series, year=year_s, value=value,
                   source=source_codes[order], z=z, share=share, offset=offset, known=known,
                   indicator=ind_s, duplicated=duplicated)


def _shift(values: np.ndarray, series: np.ndarray, k: int) -> np.ndarray:
    """``values[i - k]`` where row ``i - k`` belongs to the same series, else NaN.

    ``k > 0`` looks back (the k-th previous row), ``k < 0`` ahead.
    """
    n = len(values)
    out = np.full(n, np.nan)
    if k == 0 or abs(k) >= n:
        return values.astype(float) if k == 0 else out
    if k > 0:
        out[k:] = values[:-k]
        out[k:][series[k:] != series[:-k]] = np.nan
    else:
        out[:k] = values[-k:]
        out[:k][series[:k] != series[-k:]] = np.nan
    return out


def _nanmedian_rows(matrix: np.ndarray) -> np.ndarray:
    """Row-wise median ignoring NaN; NaN for a row without any value."""
    return _nanmedian_last(matrix)


def _group_median(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row's group median of ``values`` (NaN ignored)."""
    return pd.Series(values).groupby(groups).transform("median").to_numpy(dtype=float)


def _outliers(work: _Series, rules: QualityRules) -> tuple[np.ndarray, list[str | None]]:
    n = len(work.z)
    notes: list[str | None] = [None] * n
    # Rows with a scale value form the screened series; neighbours are taken among them.
    idx = np.flatnonzero(np.isfinite(work.z))
    z, t, sid = work.z[idx], work.year[idx].astype(float), work.series[idx]
    prev, nxt = _shift(z, sid, 1), _shift(z, sid, -1)
    interior = np.isfinite(prev) & np.isfinite(nxt)
    ii = np.flatnonzero(interior)
    trend = _local_trend(z, t, sid, ii, rules.outlier_neighbours)
    residual = np.full(len(z), np.nan)
    residual[ii] = z[ii] - trend
    trend_full = np.full(len(z), np.nan)
    trend_full[ii] = trend

    size = pd.Series(sid).groupby(sid).transform("size").to_numpy()
    scale = _MAD_TO_SD * _group_median(np.abs(residual), sid)
    floor = np.where(work.share[idx], rules.outlier_floor_pp, rules.outlier_floor_log)
    scale = np.fmax(scale, floor)
    limit = rules.outlier_k * scale
    near = np.fmin(np.abs(z - prev), np.abs(z - nxt))
    beyond = (z > np.fmax(prev, nxt)) | (z < np.fmin(prev, nxt))
    with np.errstate(invalid="ignore"):
        candidate = (interior & beyond & (size >= rules.outlier_min_points)
                     & (np.abs(residual) > limit) & (near > rules.outlier_near_fraction * limit))
    strength = np.where(candidate, np.abs(residual) / limit, 0.0)
    stronger_neighbour = ((_shift(strength, sid, 1) > strength)
                          | (_shift(strength, sid, -1) > strength))
    outlier_local = candidate & ~stronger_neighbour

    outlier = np.zeros(n, dtype=bool)
    outlier[idx[outlier_local]] = True
    years = work.year[idx].astype(float)
    prev_year, next_year = _shift(years, sid, 1), _shift(years, sid, -1)
    prev_value = _shift(work.value[idx], sid, 1)
    next_value = _shift(work.value[idx], sid, -1)
    for j in np.flatnonzero(outlier_local):
        row = idx[j]
        share = bool(work.share[row])
        expected = _from_scale(trend_full[j], share, work.offset[row])
        departure = _departure(residual[j], share)
        notes[row] = (
            f"outlier: {_num(work.value[row])} against {_num(prev_value[j])} "
            f"({int(prev_year[j])}) and {_num(next_value[j])} ({int(next_year[j])}) around it, "
            f"{departure} {'below' if residual[j] < 0 else 'above'} the trend of its neighbours "
            f"({_num(expected)}), beyond the limit of {_departure(limit[j], share)}"
        )
    return outlier, notes


def _local_trend(z: np.ndarray, t: np.ndarray, sid: np.ndarray, rows: np.ndarray,
                 per_side: int) -> np.ndarray:
    """The robust trend of each row's neighbours, evaluated at the row's own year.

    The neighbours are the ``2 * per_side`` nearest observations of the series, ``per_side``
    on each side where there are enough, else more on the other side (a point next to an
    end still gets four). The line through them is Siegel's repeated median (for each
    neighbour the median slope to the others, then the median of those), which one bad
    neighbour cannot tilt; the level is the median of the neighbours moved along that
    slope to the row's year. (Plain Theil-Sen was not enough: with a spike among four
    neighbours, three of its six pairwise slopes are bad and the median is pulled.)
    """
    window = 2 * per_side
    position = pd.Series(sid).groupby(sid).cumcount().to_numpy()[rows]
    size = np.bincount(sid)[sid[rows]]
    left = np.minimum(per_side, position)
    right = np.minimum(window - left, size - 1 - position)
    left = np.minimum(window - right, position)
    reach = window - 1
    columns_y, columns_t = [], []
    for k in range(1, reach + 1):  # k-th neighbour on the left, then on the right
        for shift, count in ((k, left), (-k, right)):
            y = _shift(z, sid, shift)[rows]
            year = _shift(t, sid, shift)[rows]
            y[k > count] = np.nan
            columns_y.append(y)
            columns_t.append(year)
    ys, ts = np.column_stack(columns_y), np.column_stack(columns_t)
    slope = _repeated_median_slope(ys, ts)
    return _nanmedian_rows(ys - slope[:, None] * (ts - t[rows, None]))


def _repeated_median_slope(ys: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Siegel's repeated-median slope of each row's points (NaN entries ignored): for each
    point the median slope to the others, then the median of those. One wild point among
    four cannot tilt it; NaN where a row has fewer than two points."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pairwise = (ys[:, None, :] - ys[:, :, None]) / (ts[:, None, :] - ts[:, :, None])
    diagonal = np.arange(ys.shape[1])
    pairwise[:, diagonal, diagonal] = np.nan
    return _nanmedian_rows(_nanmedian_last(pairwise))


def _course(z: np.ndarray, t: np.ndarray, sid: np.ndarray,
            points: int) -> tuple[np.ndarray, np.ndarray]:
    """The course a series was on before each row: its slope and the value it leads to at
    the row's year.

    The slope is the repeated median through up to ``points`` earlier observations and the
    value the median of those observations moved along it to the row's year, so a dip just
    before the row does not make the way back look like a shift. For a series' first
    changes (fewer than two observations before) the slope comes from up to ``points``
    later observations and the value from the previous one. The row itself is never among
    them, so a level shift cannot bend the course it is judged against. NaN where fewer
    than two other observations exist.
    """
    position = pd.Series(sid).groupby(sid).cumcount().to_numpy()
    size = np.bincount(sid)[sid]
    use_before = position >= 2
    ys = np.full((len(z), points), np.nan)
    ts = np.full((len(z), points), np.nan)
    for k in range(1, points + 1):
        before, after = _shift(z, sid, k), _shift(z, sid, -k)
        ys[:, k - 1] = np.where(use_before, before, after)
        ts[:, k - 1] = np.where(use_before, _shift(t, sid, k), _shift(t, sid, -k))
    enough = np.where(use_before, position, size - 1 - position) >= 2
    slope = np.full(len(z), np.nan)
    slope[enough] = _repeated_median_slope(ys[enough], ts[enough])
    level = _nanmedian_rows(ys + slope[:, None] * (t[:, None] - ts))
    from_previous = _shift(z, sid, 1) + slope * (t - _shift(t, sid, 1))
    level = np.where(use_before, level, from_previous)
    return slope, level


def _nanmedian_last(array: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where there is no value.

    ``np.nanmedian`` goes through masked arrays and one warning per empty slice: ten times
    slower on these many short rows. NaN sorts last, so the median of the ``count`` values
    is read off the sorted rows directly.
    """
    ordered = np.sort(array, axis=-1)
    count = np.sum(~np.isnan(ordered), axis=-1)
    low = np.maximum((count - 1) // 2, 0)
    high = np.maximum(count // 2, 0)
    high = np.minimum(high, array.shape[-1] - 1)
    pick_low = np.take_along_axis(ordered, low[..., None], axis=-1)[..., 0]
    pick_high = np.take_along_axis(ordered, high[..., None], axis=-1)[..., 0]
    return np.where(count > 0, (pick_low + pick_high) / 2, np.nan)


def _jumps_and_breaks(
    work: _Series, outlier: np.ndarray, rules: QualityRules,
) -> tuple[np.ndarray, np.ndarray, dict[str, list[str | None]]]:
    n = len(work.z)
    notes: dict[str, list[str | None]] = {"jump": [None] * n, "break": [None] * n}
    jump = np.zeros(n, dtype=bool)
    brk = np.zeros(n, dtype=bool)
    # Changes between consecutive observations once outliers are set aside.
    idx = np.flatnonzero(np.isfinite(work.z) & ~outlier)
    if len(idx) < 2:
        return jump, brk, notes
    z, t, sid = work.z[idx], work.year[idx].astype(float), work.series[idx]
    share, ind = work.share[idx], work.indicator[idx]
    z_prev, t_prev = _shift(z, sid, 1), _shift(t, sid, 1)
    gap = t - t_prev
    change = (z - z_prev) / gap  # per year of gap: percentage points or log ratio

    # The indicator's usual annual change across economies; repeats say nothing about how
    # far a value can move, so zero changes stay out of the scale.
    moving = np.isfinite(change) & (change != 0)
    centre = _group_median(np.where(moving, change, np.nan), ind)
    spread = _MAD_TO_SD * _group_median(np.where(moving, np.abs(change - centre), np.nan), ind)
    floor = np.where(share, rules.change_floor_pp, rules.change_floor_log)
    spread = np.fmax(np.nan_to_num(spread, nan=0.0), floor)
    centre = np.nan_to_num(centre, nan=0.0)
    cross_z = (change - centre) / spread

    # The course the series was on before the change (the repeated-median slope through
    # up to `course_points` earlier observations; through later ones for a series' first
    # changes) gives the direction a break runs against and the change to expect; the
    # series' own spread of changes, never below the indicator's, says how far a change
    # usually strays from it.
    course, course_level = _course(z, t, sid, rules.course_points)  # NaN: too few points
    direction = np.sign(course)
    expected = np.where(np.isfinite(course), course_level, z_prev + centre * gap)
    series_centre = _group_median(change, sid)
    series_spread = _MAD_TO_SD * _group_median(np.abs(change - series_centre), sid)
    own_spread = np.fmax(np.nan_to_num(series_spread, nan=0.0), spread)
    series_z = (z - expected) / gap / own_spread  # departure from the course, per year
    against = np.isfinite(direction) & (np.sign(change) != direction)
    source = work.source[idx].astype(float)
    source_changed = np.isfinite(z_prev) & (_shift(source, sid, 1) != source)

    # Persistence: the next observations stay on the new side of the old/new midpoint.
    midpoint = (z + z_prev) / 2
    persists = np.ones(len(z), dtype=bool)
    for k in range(1, rules.break_persist_points + 1):
        ahead = _shift(z, sid, -k)
        stays = ~np.isfinite(ahead) | ((ahead - midpoint) * np.sign(change) > 0)
        persists &= stays

    with np.errstate(invalid="ignore"):
        extreme = (np.abs(cross_z) > rules.jump_z) & (np.abs(series_z) > rules.jump_z_series)
        level_shift = extreme & against
        source_shift = (source_changed & (np.abs(cross_z) > rules.break_z_source)
                        & (np.abs(series_z) > rules.break_z_source))
        is_break = persists & (level_shift | source_shift)
        is_jump = extreme & ~is_break
    jump[idx[is_jump]] = True
    brk[idx[is_break]] = True

    prev_value = _shift(work.value[idx], sid, 1)
    source_names = work.frame["source"].astype(object).to_numpy()
    prev_row = _shift(idx.astype(float), sid, 1)
    ahead1 = np.isfinite(_shift(z, sid, -1))
    for j in np.flatnonzero(is_jump | is_break):
        row = idx[j]
        years = int(gap[j])
        span = f"in {years} year{'s' if years != 1 else ''}"
        move = _change_text(work.value[row], prev_value[j], z[j] - z_prev[j], bool(share[j]))
        usual = _rate_text(centre[j], bool(share[j]))
        head = (f"{_num(prev_value[j])} ({int(t_prev[j])}) to {_num(work.value[row])}, "
                f"{move} {span}: {abs(cross_z[j]):.1f} robust deviations from this indicator's "
                f"usual change across economies ({usual} a year) and {abs(series_z[j]):.1f} from "
                f"the series' own course")
        if is_jump[j]:
            notes["jump"][row] = f"jump: {head}"
            continue
        reasons = []
        if level_shift[j]:
            trend_word = {1.0: "rising", -1.0: "falling"}.get(float(direction[j]), "flat")
            reasons.append(f"against the series' {trend_word} course before it")
        if source_changed[j]:
            reasons.append(f"where the source changes from {source_names[int(prev_row[j])]} to "
                           f"{source_names[row]}")
        holds = "and the next values stay at the new level" if ahead1[j] else "and it is the latest value"
        notes["break"][row] = f"break: {head}, {' and '.join(reasons)}, {holds}"
    return jump, brk, notes


def _imputed(work: _Series, rules: QualityRules) -> tuple[np.ndarray, list[str | None]]:
    n = len(work.value)
    notes: list[str | None] = [None] * n
    value, sid = work.value, work.series
    prev = _shift(value, sid, 1)
    with np.errstate(invalid="ignore"):
        same = np.abs(value - prev) <= rules.run_rel_tol * np.fmax(np.abs(value), np.abs(prev))
    run_id = np.cumsum(~same)
    run_length = np.bincount(run_id)[run_id]
    at_bound = (np.abs(value) <= rules.run_rel_tol) | (
        work.share & (np.abs(value - 100.0) <= rules.run_rel_tol * 100.0))
    imputed = same & (run_length >= rules.run_min_length) & ~at_bound
    if imputed.any():
        first = pd.Series(work.year).groupby(run_id).transform("min").to_numpy()
        last = pd.Series(work.year).groupby(run_id).transform("max").to_numpy()
        for i in np.flatnonzero(imputed):
            notes[i] = (f"imputed: {_num(value[i])} repeated in {run_length[i]} consecutive "
                        f"observations ({first[i]}-{last[i]})")
    return imputed, notes


# --------------------------------------------------------------------------- wording
def _num(x: float) -> str:
    """A value as a reader wants it: four significant digits, no exponent for usual sizes."""
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    text = f"{x:.4g}"
    if "e" in text:
        return f"{x:.2g}"
    if "." not in text:
        text += ".0"
    return text


def _from_scale(z: float, share: bool, offset: float) -> float:
    return z if share else float(np.exp(z) - offset)


def _departure(amount: float, share: bool) -> str:
    """A distance on the screening scale, in words: percentage points or a factor."""
    if share:
        return f"{abs(amount):.1f} pp"
    return f"a factor {math.exp(abs(amount)):.2f}"


def _change_text(value: float, previous: float, dz: float, share: bool) -> str:
    """The change as a reader reads it: points for a share, the ratio of the values otherwise
    (the screening scale's ratio, which includes the offset, when a value is not positive)."""
    if share:
        return f"{value - previous:+.1f} pp"
    ratio = value / previous if value > 0 and previous > 0 else math.exp(dz)
    return f"x{ratio:.2f}"


def _rate_text(rate: float, share: bool) -> str:
    if share:
        return f"{rate:+.2f} pp"
    return f"x{math.exp(rate):.3f}"
