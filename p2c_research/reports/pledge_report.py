"""The pledge gap report (notebook 03): where need is high and pledges are thin.

The notebook stays thin (:mod:`~p2c_research.reports.contract`):
``report = build(ctx)``, ``save(report, ctx.out_dir)`` and one cell per
section. This module reads the data and the caches, runs the pure analyses
and assembles one country's report; the all-country parts (world scores,
benchmark fits, the allocation of every pledge and the gap index of every
economy, :mod:`~p2c_research.reports.pledge_world`) are computed once per data
vintage and options, so a batch of countries shares them; the per-country
parts (classification against the country's priorities, need/support/gap
ranked among the country's peers, matrix, priority totals, follow-through,
action plan, the comparison with a baseline) take a second or two. The
display views live in :mod:`~p2c_research.reports.pledge_tables`, the maps and
charts in :mod:`~p2c_research.reports.pledge_figures`.

With synthetic pledges every pledge figure, table caption and verdict says
"illustrative" (:data:`~p2c_research.reports.pledge_tables.ILLUSTRATIVE`);
with imported real pledges the labels go.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from p2c_research import countries, steps
from p2c_research.analyses import action_plan as ap
from p2c_research.analyses import gaps as gp
from p2c_research.analyses import pledge_gaps as pg
from p2c_research.analyses.allocation import describe_rule
from p2c_research.analyses.classification import SPLIT_RULE, unmatched_pledges
from p2c_research.analyses.coverage import NO_DATA_COLUMNS, indicators_without_data
from p2c_research.analyses.landscape import WorldScores, country_landscape
from p2c_research.analyses.scores import catalog_meta
from p2c_research.analyses.verdicts import country_verdicts
from p2c_research.attribution import licence_note, publishers_text
from p2c_research.cache import cache_key
from p2c_research.catalog import PILLAR_LABELS, SCORED_PILLARS
from p2c_research.datasets import load_geometries, load_panel, load_pledges
from p2c_research.errors import P2CError
from p2c_research.escaping import md_code, md_text
from p2c_research.params import CountryParams, headline_peers, resolve_peer_sets
from p2c_research.report_io import RenderedImage, save_figure, save_table, saved_image
from p2c_research.reports import compare_report as cr
from p2c_research.reports import landscape_memo, pledge_figures
from p2c_research.reports import pledge_world as pw
from p2c_research.reports.action_plan_xlsx import save_action_plan_xlsx
from p2c_research.reports.contract import Section, files_markdown, members
from p2c_research.reports.pledge_figures import PledgeFigures
from p2c_research.reports.pledge_tables import (
    ILLUSTRATIVE,
    PLEDGE_BASIS_IMPORTED,
    PLEDGE_BASIS_SYNTHETIC,
    PLEDGE_GAP_COLUMNS,
    PLEDGE_GAP_EXTRA,
    PLEDGE_LIST_COLUMNS,
    display_view,
    escape_md,
    plan_html,
    readable_view,
    table_caption,
)
from p2c_research.reports.pledge_world import world_allocation
from p2c_research.reports.tables import (
    COLLAPSE_LIST_ROWS,
    COLLAPSE_ROWS,
    HtmlTable,
    no_data_list,
    render_table,
)
from p2c_research.store import read_provenance
from p2c_research.textfmt import sig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from p2c_research.context import RunContext
    from p2c_research.datasets import DataSelection

log = logging.getLogger(__name__)


@dataclass
class PledgeTables:
    """The tables ``save`` writes as ``OUT/<ISO3>/tables/<name>.csv``, in writing order
    (the action plan also as ``action_plan.xlsx``)."""

    pledge_gaps: pd.DataFrame
    action_plan: pd.DataFrame
    action_plan_indicators: pd.DataFrame
    priority_pledge_matrix: pd.DataFrame
    priority_totals: pd.DataFrame
    follow_through: pd.DataFrame
    league_table: pd.DataFrame
    unmatched_pledges: pd.DataFrame
    stale_pledges: pd.DataFrame
    pledges_reaching: pd.DataFrame
    small_states_not_drawn: pd.DataFrame
    unresolved_targets: pd.DataFrame


# --------------------------------------------------------------------------- the result
@dataclass
class PledgeGapReport:
    """Everything notebook 03 shows and saves for one country."""

    iso3: str
    name: str
    rule: str
    as_of: date
    as_of_reason: str
    benchmark_available: bool
    tables: PledgeTables
    world: pd.DataFrame  # gap_index rows of every economy, all levels
    priorities_without_pledges: list[str]
    map_region: tuple[str, list[str]]
    not_drawn: list[str]
    source_line: str
    notes: list[str] = field(default_factory=list)
    synthetic: bool = True
    peer_label: str = ""
    since_last: cr.SinceLast | None = None
    no_data: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NO_DATA_COLUMNS))
    #: The data the maps are drawn from, and their resolution.
    selection: DataSelection | None = None
    dpi: int = 110
    saved: dict[str, Path] = field(default_factory=dict)

    @cached_property
    def figures(self) -> PledgeFigures:
        """The maps and charts, drawn on first use (:func:`save` writes them)."""
        return pledge_figures.draw(self)

    @cached_property
    def sections(self) -> PledgeSections:
        return PledgeSections(self)

    @property
    def priority_titles(self) -> dict[str, str]:
        """Priority id -> its title in params (from the pledge_gaps table)."""
        gaps = self.tables.pledge_gaps
        rows = gaps[gaps["level"] == "priority"]
        return dict(zip(rows["priority_id"], rows["title"], strict=True))

    def _shown(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        view = display_view(name, frame, synthetic=self.synthetic)
        if name == "action_plan_indicators" and "indicator" in frame.columns:
            view = view[~frame.loc[view.index, "indicator"].isin(
                set(self.no_data["indicator"]))]
        shown = readable_view(view, self.priority_titles)
        if "iso3" in shown.columns and "name" in shown.columns:
            shown = shown.rename(columns={"name": "country"})
        if "title" in shown.columns:
            shown = shown.rename(columns={"title": "Priority or pillar" if name == "pledge_gaps"
                                          else "priority"})
        return shown

    def _summary(self, name: str, frame: pd.DataFrame) -> str | None:
        """The line a collapsed table shows (None: the renderer's "<n> rows")."""
        if name in ("pledges_reaching", "unmatched_pledges", "stale_pledges"):
            usd = frame["usd_allocated"].sum() if "usd_allocated" in frame else float("nan")
            what = {"pledges_reaching": "pledges", "unmatched_pledges": "unmatched pledges",
                    "stale_pledges": "stale pledges"}[name]
            return (f"{len(frame)} {what}, USD {sig(usd / 1e9)} bn allocated to "
                    f"{self.name} in all \u2014 show")
        if name == "action_plan_indicators":
            return (f"{len(frame)} indicators with data behind the {len(self.priority_titles)} "
                    "priorities: baseline, target, pace \u2014 show")
        if name == "small_states_not_drawn":
            return f"{len(frame)} economies too small for the maps \u2014 show"
        return None

    def table_html(self, name: str) -> HtmlTable:
        """The table named as its CSV (a :class:`PledgeTables` field) as the report shows
        it: labels, escaped (pledge text is untrusted), folded into ``<details>`` with a
        summary line when long."""
        frame = getattr(self.tables, name)
        shown = self._shown(name, frame)
        # Lists to look things up in (pledges, the indicators behind the plan) fold sooner.
        is_list = name in ("pledges_reaching", "unmatched_pledges", "stale_pledges",
                           "action_plan_indicators", "small_states_not_drawn")
        return render_table(shown, caption=table_caption(name, self.synthetic),
                            summary=self._summary(name, frame.loc[shown.index]),
                            collapse_rows=COLLAPSE_LIST_ROWS if is_list else COLLAPSE_ROWS)

    def no_data_html(self) -> HtmlTable:
        """The indicators without data for the country, listed once with the reason."""
        return no_data_list(
            self.no_data, self.name,
            caption=(f"{ILLUSTRATIVE}. " if self.synthetic else "")
            + "Indicators without any value are listed here once and left out of the tables "
              "of this report; a priority they measure asks to validate data.")

    def league_html(self, top: int = 25) -> HtmlTable:
        """The top of the league table, plus the country's own row when it is further down."""
        league = self.tables.league_table
        shown = league.head(top)
        own = league[league["iso3"] == self.iso3]
        if not own.empty and own.index[0] >= top:
            shown = pd.concat([shown, own])
        text = (f"{table_caption('league_table', self.synthetic)} Top {top} of {len(league)} economies"
                + (f", then {self.iso3}." if len(shown) > top else "."))
        return render_table(self._shown("league_table", shown), caption=text,
                            summary=f"Top {top} of {len(league)} economies by gap index "
                                    "\u2014 show", collapse_rows=COLLAPSE_LIST_ROWS)

    def method_markdown(self) -> str:
        """The rules behind the numbers, for the reader (no pledge text inside)."""
        bench = ("benchmark classes from each indicator's preferred model (logit for shares, "
                 "log for log-scaled indicators, else OLS on ln GDP per capita), 'under' "
                 "meaning below its prediction interval" if self.benchmark_available else
                 "**no benchmark results were available: need is 100 minus the score alone**")
        lines = [
            "### How to read this report",
            f"- **Allocation.** {escape_md(describe_rule(self.rule))}",
            "- **Classification.** A pledge is mapped to a priority when its declared pillar is "
            "one of the priority's sub-pillars (or, for cross-cutting pillars and priorities "
            "without sub-pillars, its focus area is one of the priority's pillars), or when one "
            "of the priority's keywords starts a word in the pledge's entity or description "
            "(case-insensitive; acronyms in capitals match as whole words). Pledges matching "
            "no priority are listed below.",
            f"- **No double counting.** {escape_md(SPLIT_RULE)}",
            f"- **Need.** {escape_md(gp.NEED_FORMULA)}; {bench}.",
            f"- **Gap index and support.** {escape_md(gp.GAP_FORMULA)}. The country's ranks "
            f"are among its peers, {escape_md(self.peer_label)}; the world columns and the "
            "maps rank every economy. Flags use terciles of the percentile ranks, and "
            f"{escape_md(gp.SUPPORT_FLOOR_RULE)}.",
            f"- **Stale pledges**: end date before {self.as_of.isoformat()} "
            f"({escape_md(self.as_of_reason)}) and not completed.",
            "- **Action plan steps** (the first rule that applies): "
            + "; ".join(escape_md(f"{r.label} -> {r.step}") for r in ap.STEP_RULES) + ".",
        ]
        if self.synthetic:
            lines.insert(1, f"- **{ILLUSTRATIVE}.** Every pledge figure, table and verdict "
                         "below rests on synthetic pledges: read them as a demonstration of "
                         "the method, not as findings about real commitments.")
        return "\n".join(lines)

    def summary_markdown(self) -> str:
        """Headline numbers for the country (ids and numbers only, escaped)."""
        reach = self.tables.pledges_reaching
        by_basis = reach["basis"].value_counts()
        follow = self.tables.follow_through.set_index("priority_id").loc[pg.ALL_ROW]
        country_row = self.tables.pledge_gaps
        overall = country_row[country_row["level"] == "country"].iloc[0]
        share = follow["share_value_self_reported"]
        titles = self.priority_titles
        missing = ", ".join(md_text(titles.get(p, p)) for p in self.priorities_without_pledges)
        n_unmatched = len(self.tables.unmatched_pledges)
        label = " (illustrative)" if self.synthetic else ""
        lines = [
            *([f"**{ILLUSTRATIVE}: the pledges below are not real commitments.**", ""]
              if self.synthetic else []),
            f"**{len(reach)} pledges reach {escape_md(self.name)}** "
            f"({', '.join(f'{n} via {escape_md(b)}' for b, n in by_basis.items())}); "
            f"USD {reach['usd_allocated'].sum() / 1e6:,.1f} m allocated to it under the "
            f"{md_code(self.rule)} rule "
            f"({int(reach['usd_allocated'].isna().sum())} pledges have no USD value and count "
            "by number only).",
            "",
            # the significant figures of the need table below, so the two agree
            f"Overall need {sig(overall['need'])} (rank {overall['need_rank']} of "
            f"{overall['n_ranked']} peers), pledge support USD {sig(overall['usd_per_capita'])} "
            f"per person (rank {overall['support_rank']}, 1 = least), gap index "
            f"{sig(overall['gap_index'])} (rank {overall['gap_rank']}): "
            f"**{escape_md(overall['flag'])}{label}**." if pd.notna(overall["gap_index"]) else
            "Overall need could not be computed (insufficient data).",
            "",
            "Priorities with no pledge at all: " + (missing or "none") + ".",
            "",
            f"{n_unmatched} pledge(s) reaching the country match no priority (listed under "
            "'Pledges reaching the country').",
            "",
            f"Follow-through: {follow['completed']} completed, {follow['in_progress']} in "
            f"progress, {follow['not_started']} not started, {follow['not_reported']} not "
            f"reported; {follow['stale']} stale. Share of pledged value self-reported: "
            + (f"{share:.0%}." if pd.notna(share) else "n/a (no valued pledge)."),
        ]
        if self.notes:
            lines += ["", *[f"> {escape_md(n)}" for n in self.notes]]
        return "\n".join(lines)


def _map_region(params: CountryParams) -> tuple[str, list[str]]:
    """The regional map: the headline peer set of all three reports, plus the country.

    That is the ITU-D region (``params.headline_peers``); an economy that is
    not an ITU member, or whose params switch every peer set off, gets its
    World Bank region.
    """
    headline = headline_peers(params)
    if headline.label is not None:
        return headline.region_name, sorted({*headline.members, params.country})
    region = countries.load_countries().set_index("iso3").at[params.country, "wb_region"]
    return f"{region} (World Bank region)", countries.group_members(region)


def status_date(selection: DataSelection, today: date | None = None) -> tuple[date, str]:
    """The date that statuses were reported at, which decides which pledges are stale.

    Self-reported statuses are a snapshot: judging a pledge stale after that
    date would blame it for a report that was never asked for. The date is the
    pledge file's ``snapshot`` (its month end) when the provenance gives one,
    else the day it was retrieved, never later than today.
    """
    today = today or date.today()
    prov = read_provenance(selection.pledges_path)
    snapshot = str((prov.get("parameters") or {}).get("snapshot", ""))
    try:
        if snapshot:
            month_end = pd.Period(snapshot, freq="M").end_time.date()
            return min(month_end, today), f"the status snapshot of the pledge file ({snapshot})"
        retrieved = str(prov.get("retrieved_at", ""))[:10]
        if retrieved:
            return (min(date.fromisoformat(retrieved), today),
                    "the date the pledge file was retrieved")
    except ValueError:
        log.warning("unreadable snapshot/retrieved date in %s provenance", selection.pledges_path)
    return today, "today (the pledge file states no status date)"


def _source_line(ctx: RunContext) -> str:
    p = ctx.params
    pledges = ("SYNTHETIC pledges (seeded, calibrated to P2C totals of Dec 2023)"
               if ctx.selection.pledges_synthetic else "P2C pledges (imported export)")
    shown = ctx.panel["source"].astype(str).unique()
    data = publishers_text(shown) or "the indicator panel"
    return (f"Source: {pledges}; scores and benchmarks from {data}, latest values "
            f"{p.year_window.start}-{p.year_window.end}; p2c-research analysis, reference year "
            f"{p.reference_year}.{licence_note(shown)}")


def pledge_peers(params: CountryParams) -> tuple[str, list[str]]:
    """The peer set the country's pledge verdicts rank it in: ITU-D region plus income group.

    The headline peers of every report (the ITU-D region, or a non-member's
    World Bank region) joined with the World Bank income group, the country
    included. Returns a label for the reader and the ISO3 codes.
    """
    headline = headline_peers(params)
    ref = countries.load_countries().set_index("iso3")
    income = ref.at[params.country, "income_group"]
    members = set(headline.members) | {params.country}
    parts = [headline.region_name] if headline.label else []
    if isinstance(income, str) and income:
        members |= set(countries.group_members(income))
        parts.append(f"{income} (World Bank)")
    return " plus ".join(parts) + f", {len(members)} economies", sorted(members)


def _landscape(ctx: RunContext, world: WorldScores):
    """The country's landscape tables (scores, trends, targets) for the action plan, or None."""
    kept = landscape_memo.recall(ctx)  # built by the landscape notebook in this process
    if kept is not None:
        return kept
    params = ctx.params
    peer_sets = resolve_peer_sets(params)
    try:
        return country_landscape(
            world, ctx.screened_panel, ctx.iso3, peer_sets,
            national_targets=params.national_targets, priorities=params.strategic_priorities,
            primary_peer_set=headline_peers(params, peer_sets).label,
            country_name=params.country_name, peer_min_n=params.analysis.peer_min_n)
    except P2CError as exc:  # e.g. no value at all: every priority then asks for data
        log.warning("no landscape for %s (%s); the action plan asks to validate data",
                    ctx.iso3, exc)
        return None


def _plan_tables(ctx: RunContext, world: WorldScores, priority_gaps: pd.DataFrame,
                 reaching: pd.DataFrame, labels: pd.DataFrame, as_of: date,
                 made: date) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The action plan, its indicator rows and the landscape tables they rest on."""
    params = ctx.params
    meta = catalog_meta(ctx.catalog)
    land = _landscape(ctx, world)
    bounded = meta.loc[meta["bounded_share"].astype(bool), "indicator"].tolist()
    if land is not None:
        targets = ap.indicator_targets(ctx.iso3, land.scores, land.trends, land.targets, meta,
                                       bounded)
        quality = land.quality
    else:
        targets = pd.DataFrame(columns=["indicator", "year", "value", "target", "target_year",
                                        "target_kind", "target_source", "gap_to_target",
                                        "progress", "needed_per_year", "trend_per_year",
                                        "status", "year_reached"])
        quality = None
    indicators = ap.priority_indicators(
        params.strategic_priorities.items, meta, land.scores if land is not None else None,
        targets, ctx.catalog.key_indicators(), params.reference_year, quality)
    plan = ap.action_plan(params.strategic_priorities.items, indicators, priority_gaps,
                          reaching, labels, pg.stale_mask(reaching, as_of), made)
    return plan, indicators, land


def _current_tables(ctx: RunContext, land: Any, pledge_gaps: pd.DataFrame,
                    reaching: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """This run's tables in the shapes the comparison reads (as notebooks 01-03 write them)."""
    tables = {"pledges_reaching": reaching, "pledge_gaps": pledge_gaps}
    if land is not None:
        tables["landscape_scores"] = land.scores
        tables["targets"] = land.targets
    try:
        tables["verdicts"] = country_verdicts(ctx.benchmark(), ctx.iso3, ctx.catalog,
                                              ctx.screened_panel)
    except P2CError as exc:
        log.warning("no verdicts to compare for %s (%s)", ctx.iso3, exc)
    return tables


# --------------------------------------------------------------------------- one country
def build(ctx: RunContext, *, as_of: date | None = None,
          made: date | None = None) -> PledgeGapReport:
    """Run the pledge gap analysis for the context's country.

    Args:
        ctx: the run context (params, data selection, catalog, output folder).
        as_of: the date that decides which pledges are stale (default:
            :func:`status_date` of the pledge file).
        made: the date the action plan is made, from which its review dates
            count (default: today).
    """
    params = ctx.params
    iso3 = ctx.iso3
    if as_of is None:
        as_of, as_of_reason = status_date(ctx.selection)
    else:
        as_of_reason = "given by the caller"
    made = made or date.today()
    synthetic = ctx.selection.pledges_synthetic
    priorities = list(params.strategic_priorities.items)
    window = (params.year_window.start, params.year_window.end)
    rule = params.analysis.allocation_rule
    notes: list[str] = []

    pledges = load_pledges(ctx.selection)
    pledges = pledges.assign(pledge_id=pledges["pledge_id"].astype(str))
    economies = countries.load_countries()
    panel = load_panel(ctx.selection)
    population = pw.population_of(panel, window)
    world = steps.params_scores(ctx.selection, ctx.catalog, params)
    verdicts = pw.world_verdicts_or_none(ctx)
    if verdicts is None:
        notes.append("No benchmark results: need is 100 minus the landscape score alone.")
    alloc_frames = world_allocation(ctx, rule)
    allocation = alloc_frames["allocation"]

    # Need, support and the gap index for every economy (shared by every country
    # with the same priorities and options: memoised in-process, see pledge_world.world_gaps).
    group_index = pd.DataFrame(
        [("priority", p.id) for p in priorities]
        + [("pillar", p) for p in SCORED_PILLARS] + [("country", gp.COUNTRY_GROUP)],
        columns=["level", "group_id"])
    memo_key = cache_key(
        vintage=ctx.selection.fingerprint(), rule=rule, window=list(window),
        threshold=params.analysis.coverage_threshold,
        pi_level=params.analysis.prediction_interval,
        frontier_q=params.analysis.frontier_quantile,
        priorities=[p.model_dump(mode="json") for p in priorities],
        catalog=hashlib.sha256(ctx.catalog.model_dump_json().encode()).hexdigest())
    labels, world_gaps, under = pw.world_gaps(
        memo_key, lambda: pw.compute_world_gaps(ctx, pledges, priorities, world, verdicts,
                                              allocation, population, economies, group_index))

    # The country's rows, ranked among its peers (the world ranks kept beside them).
    peer_label, peers = pledge_peers(params)
    ranked = gp.rank_among(world_gaps, peers)
    mine = ranked[ranked["iso3"] == iso3].copy()
    world_rows = world_gaps[world_gaps["iso3"] == iso3].set_index(["level", "group_id"])
    keys = pd.MultiIndex.from_frame(mine[["level", "group_id"]])
    mine["world_gap_index"] = world_rows["gap_index"].reindex(keys).to_numpy()
    mine["world_gap_rank"] = world_rows["gap_rank"].reindex(keys).to_numpy()
    mine["world_n_ranked"] = world_rows["n_ranked"].reindex(keys).to_numpy()
    mine["peer_set"] = peer_label
    mine["pledge_basis"] = PLEDGE_BASIS_SYNTHETIC if synthetic else PLEDGE_BASIS_IMPORTED
    titles = {p.id: p.title for p in priorities}
    pillars_of = {p.id: ";".join(p.pillars) for p in priorities}
    is_prio = mine["level"] == "priority"
    mine["priority_id"] = mine["group_id"].where(is_prio)
    mine["pillar"] = mine["group_id"].map(pillars_of).where(is_prio, mine["group_id"])
    mine.loc[mine["level"] == "country", "pillar"] = "ALL"
    mine["title"] = mine["group_id"].map(titles).where(
        is_prio, mine["group_id"].map(PILLAR_LABELS).fillna("All pillars"))
    order = {g: k for k, g in enumerate(group_index["group_id"])}
    mine = mine.assign(_o=mine["group_id"].map(order)).sort_values("_o").drop(columns="_o")
    pledge_gaps = mine[PLEDGE_GAP_COLUMNS + PLEDGE_GAP_EXTRA].reset_index(drop=True)

    reaching = pg.country_pledges(pledges, allocation, iso3)
    my_labels = labels[labels["pledge_id"].isin(set(reaching["pledge_id"]))]
    matrix = pg.priority_pledge_matrix(reaching, my_labels, priorities)
    totals = pg.priority_totals(reaching, my_labels, priorities)
    totals["pledge_basis"] = pledge_gaps["pledge_basis"].iloc[0]
    follow = pg.follow_through(reaching, my_labels, priorities, as_of)
    stale = pg.stale_pledges(reaching, as_of)
    plan, plan_indicators, land = _plan_tables(
        ctx, world, pledge_gaps[pledge_gaps["level"] == "priority"], reaching, my_labels, as_of,
        made)
    bench = pg.benchmark_status(under, iso3).set_index("group_id")["benchmark_status"]
    plan["benchmark_status"] = plan["priority_id"].map(bench).fillna(
        "not benchmarked (no model results for its indicators)")
    plan["pledge_basis"] = pledge_gaps["pledge_basis"].iloc[0]
    unmatched = unmatched_pledges(reaching, my_labels)
    league = gp.league_table(world_gaps, economies)

    geo = load_geometries(ctx.selection)
    with_data = world_gaps.loc[(world_gaps["level"] == "country")
                               & world_gaps["gap_index"].notna(), "iso3"]
    drawn = set(geo["iso3"].dropna())
    missing = sorted(set(with_data) - drawn)
    small = league[league["iso3"].isin(missing)][
        ["iso3", "name", "sids", "need", "usd_per_capita", "gap_index", "gap_rank", "flag"]]

    unresolved = alloc_frames["unresolved"]
    if not unresolved.empty:
        notes.append(f"{unresolved['pledge_id'].nunique()} pledges have targets that are not "
                     "economies or regions; see unresolved_targets.csv.")
    reaching_table = reaching[[c for c in PLEDGE_LIST_COLUMNS if c in reaching]]
    tables = PledgeTables(
        pledge_gaps=pledge_gaps,
        action_plan=plan,
        action_plan_indicators=plan_indicators,
        priority_pledge_matrix=matrix,
        priority_totals=totals,
        follow_through=follow,
        league_table=league,
        unmatched_pledges=unmatched[[c for c in PLEDGE_LIST_COLUMNS if c in unmatched]],
        stale_pledges=stale,
        pledges_reaching=reaching_table,
        small_states_not_drawn=small.reset_index(drop=True),
        unresolved_targets=unresolved,
    )
    since_last = None
    baseline = cr.baseline_of(ctx.out_dir)
    if baseline is not None:
        since_last = cr.since_last_assessment(
            iso3, baseline, _current_tables(ctx, land, pledge_gaps, reaching_table), synthetic)
    return PledgeGapReport(
        iso3=iso3, name=params.country_name, rule=rule, as_of=as_of, as_of_reason=as_of_reason,
        benchmark_available=verdicts is not None, tables=tables,
        world=world_gaps, priorities_without_pledges=pg.priorities_without_pledges(matrix),
        map_region=_map_region(params), not_drawn=missing, source_line=_source_line(ctx),
        notes=notes, synthetic=synthetic, peer_label=peer_label, since_last=since_last,
        no_data=indicators_without_data(world, iso3, panel),
        selection=ctx.selection, dpi=params.output.figure_dpi,
    )


def save(report: PledgeGapReport, out: Path | str) -> dict[str, Path]:
    """Write every table as ``out/<ISO3>/tables/<name>.csv``, the action plan also as XLSX,
    and every figure as ``out/<ISO3>/figures/<name>.png`` (drawn here if not yet, and
    closed once written); returns file name -> path."""
    import matplotlib.pyplot as plt

    saved: dict[str, Path] = {}
    for name, frame in members(report.tables):
        saved[f"{name}.csv"] = save_table(frame, out, report.iso3, name)
    saved["action_plan.xlsx"] = save_action_plan_xlsx(report, out)
    for name, fig in members(report.figures):
        saved[f"{name}.png"] = save_figure(fig, out, report.iso3, name, report.dpi)
        if not isinstance(fig, RenderedImage):
            plt.close(fig)
    report.saved = saved
    return saved


class PledgeSections:
    """The sections of notebook 03, in reading order.

    Figures are shown from the PNG files :func:`save` wrote (with their alt
    text), so they are not drawn again; before a save they are shown as drawn.
    """

    def __init__(self, report: PledgeGapReport) -> None:
        self._report = report

    def _image(self, fig: Figure | RenderedImage) -> Any:
        """``fig`` as its saved PNG when :func:`save` wrote it, else as drawn."""
        r = self._report
        for name, drawn in members(r.figures):
            if drawn is fig and f"{name}.png" in r.saved:
                return saved_image(r.saved[f"{name}.png"])
        return fig

    @cached_property
    def summary(self) -> Section:
        """Headline numbers: pledges reaching the country, need, support, follow-through."""
        return Section("Summary", (self._report.summary_markdown(),))

    @cached_property
    def since_last(self) -> Section:
        """What changed since the baseline batch (empty without a baseline)."""
        from IPython.display import HTML

        since = self._report.since_last
        return Section("Since the last assessment",
                       (HTML(since.html() if since is not None else ""),))

    @cached_property
    def method(self) -> Section:
        """How to read the report: the rules behind the numbers."""
        return Section("How to read this report", (self._report.method_markdown(),))

    @cached_property
    def need_support(self) -> Section:
        """Need, support and gap index per priority, pillar and the country."""
        return Section("Need against support", (self._report.table_html("pledge_gaps"),))

    @cached_property
    def action_plan(self) -> Section:
        """The preliminary plan, one block per strategic priority."""
        from IPython.display import HTML

        r = self._report
        return Section("Action plan", (HTML(plan_html(r.tables.action_plan, r.synthetic)),))

    @cached_property
    def plan_indicators(self) -> Section:
        """The indicators behind the plan, and those without data."""
        r = self._report
        return Section("Indicators of the action plan",
                       (r.table_html("action_plan_indicators"), r.no_data_html()))

    @cached_property
    def gap_maps(self) -> Section:
        """The gap index and the need-by-support map of every economy."""
        f = self._report.figures
        return Section("Maps: gap index", (self._image(f.map_gap_index),
                                           self._image(f.map_bivariate)))

    @cached_property
    def need_maps(self) -> Section:
        """Need, and pledge USD per person, of every economy."""
        f = self._report.figures
        return Section("Maps: need and support", (self._image(f.map_need),
                                                  self._image(f.map_pledge_usd_pc)))

    @cached_property
    def regional_map(self) -> Section:
        """The gap index in the country's region."""
        return Section("Map: the region",
                       (self._image(self._report.figures.map_regional_gap_index),))

    @cached_property
    def small_states(self) -> Section:
        """Economies with data too small to be drawn on the maps."""
        return Section("Economies not drawn",
                       (self._report.table_html("small_states_not_drawn"),))

    @cached_property
    def matrix(self) -> Section:
        """Pledges per priority, by pillar and stakeholder group."""
        r = self._report
        return Section("Priority by pledge matrix",
                       (self._image(r.figures.pledge_matrix),
                        r.table_html("priority_pledge_matrix")))

    @cached_property
    def priority_totals(self) -> Section:
        """What each priority receives, a pledge split between the priorities it serves."""
        return Section("Priority totals", (self._report.table_html("priority_totals"),))

    @cached_property
    def follow_through(self) -> Section:
        """Self-reported implementation status of the pledges reaching the country."""
        r = self._report
        return Section("Follow-through", (self._image(r.figures.follow_through),
                                          r.table_html("follow_through")))

    @cached_property
    def stale_pledges(self) -> Section:
        """Pledges past their end date that are not completed."""
        return Section("Stale pledges", (self._report.table_html("stale_pledges"),))

    @cached_property
    def pledges_reaching(self) -> Section:
        """Every pledge reaching the country, largest allocated value first."""
        return Section("Pledges reaching the country",
                       (self._report.table_html("pledges_reaching"),))

    @cached_property
    def unmatched_pledges(self) -> Section:
        """Pledges reaching the country that match no priority."""
        return Section("Unmatched pledges", (self._report.table_html("unmatched_pledges"),))

    @cached_property
    def under_pledged(self) -> Section:
        """Across countries: need against support, and the top of the league table."""
        r = self._report
        return Section("Across countries: the under-pledged",
                       (self._image(r.figures.need_vs_support), r.league_html(top=25)))

    @property
    def files(self) -> Section:
        """The files :func:`save` wrote (read when shown, so it follows the latest save)."""
        return Section("Files written",
                       (files_markdown(self._report.saved, heading="### Files written"),))
