"""The all-country part of the pledge report: pledges allocated to economies, and the
need, support and gap index of every economy.

Computed once per data vintage and options: the allocation is a declared,
cached step (:data:`p2c_research.steps.ALLOCATION`), which a batch fills
before its countries fan out (:func:`precompute`); the gap index of every
economy is memoised in-process, so the countries of a batch that share
priorities and options share it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from p2c_research import countries, steps
from p2c_research.analyses import gaps as gp
from p2c_research.analyses.allocation import allocate_pledges, unresolved_targets
from p2c_research.analyses.classification import classify_pledges, label_weights
from p2c_research.analyses.landscape import WorldScores, priority_scores
from p2c_research.analyses.scores import latest_values
from p2c_research.analyses.verdicts import world_verdicts
from p2c_research.cache import cached_frames
from p2c_research.datasets import load_panel, load_pledges
from p2c_research.errors import P2CError

if TYPE_CHECKING:
    from p2c_research.context import RunContext

log = logging.getLogger(__name__)


def population_of(panel: pd.DataFrame, window: tuple[int, int]) -> pd.Series:
    """Latest population per economy within the window (older if none), persons."""
    pop = latest_values(panel, ["population"], window)
    return pop.set_index("iso3")["value"].astype(float)


def world_verdicts_or_none(ctx: RunContext) -> pd.DataFrame | None:
    """Every economy's verdicts (the same cached fits and engine as notebook 02), or None."""
    try:
        results = ctx.benchmark()
    except P2CError as exc:  # e.g. a panel without GDP: report the score-only need
        log.warning("benchmark unavailable (%s); need uses the score only", exc)
        return None
    return world_verdicts(results)


_world_gaps_memo: dict[str, tuple[pd.DataFrame, ...]] = {}


def world_gaps(key: str, compute: Callable[[], tuple[pd.DataFrame, ...]]
                ) -> tuple[pd.DataFrame, ...]:
    """``(labels, world_gaps, under)`` for ``key``, computed once per process.

    Every country of a batch with the default priorities shares them; the
    frames handed out are copy-on-write copies, so callers cannot alter the memo.
    """
    if key not in _world_gaps_memo:
        if len(_world_gaps_memo) >= 8:
            _world_gaps_memo.pop(next(iter(_world_gaps_memo)))
        _world_gaps_memo[key] = compute()
    return tuple(frame.copy(deep=False) for frame in _world_gaps_memo[key])


def compute_world_gaps(ctx: RunContext, pledges: pd.DataFrame, priorities: list,
                        world: WorldScores, verdicts: pd.DataFrame | None,
                        allocation: pd.DataFrame, population: pd.Series,
                        economies: pd.DataFrame, group_index: pd.DataFrame
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pledge labels; need, support and gap index of every economy; the 'under' shares."""
    labels = label_weights(classify_pledges(pledges, priorities))
    membership = gp.indicator_membership(ctx.catalog, priorities)
    under = gp.under_shares(verdicts, membership)
    prio = priority_scores(world, priorities)
    prio_scores = prio.rename(columns={"priority_id": "group_id"}).assign(level="priority")
    scores = pd.concat([prio_scores[["iso3", "level", "group_id", "score"]],
                        pillar_and_country_scores(world)], ignore_index=True)
    need = gp.need_scores(scores, under)
    groups = gp.pledge_groups(pledges, labels)
    support = gp.support_by_group(allocation, groups, population, list(economies["iso3"]),
                                  group_index=group_index)
    world_gaps = gp.gap_index(need, support)
    return labels, world_gaps[world_gaps["iso3"].isin(set(economies["iso3"]))], under


def pillar_and_country_scores(world: WorldScores) -> pd.DataFrame:
    """Pillar scores and the country-level mean, in the long ``level, group_id`` shape."""
    pillars = world.pillars[["iso3", "pillar", "score"]]
    part = pillars.rename(columns={"pillar": "group_id"}).assign(level="pillar")
    overall = gp.overall_scores(pillars)[["iso3", "level", "group_id", "score"]]
    return pd.concat([part[["iso3", "level", "group_id", "score"]], overall],
                     ignore_index=True)


def world_allocation(ctx: RunContext, rule: str | None = None) -> dict[str, pd.DataFrame]:
    """Every pledge allocated to economies under ``rule`` (default: the params' rule), cached.

    A declared step (:data:`p2c_research.steps.ALLOCATION`): the key is the
    data vintage, the rule, the scoring and benchmark options and the catalog
    (they feed the ``need`` rule), the country reference (it resolves pledge
    targets) and the hash of the step's code. Returns frames ``allocation``
    and ``unresolved``.
    """
    params = ctx.params
    rule = rule or params.analysis.allocation_rule
    window = (params.year_window.start, params.year_window.end)
    threshold = params.analysis.coverage_threshold
    # The scoring and benchmark options feed the ``need`` rule only, but are cheap to key on.
    key = steps.ALLOCATION.key(
        vintage=ctx.selection.fingerprint(), rule=rule, window=list(window),
        coverage_threshold=threshold, catalog=steps.catalog_hash(ctx.catalog),
        reference=steps.reference_hash(), reference_year=params.reference_year,
        pi_level=params.analysis.prediction_interval,
        frontier_q=params.analysis.frontier_quantile)

    def compute() -> dict[str, pd.DataFrame]:
        pledges = load_pledges(ctx.selection)
        economies = countries.load_countries()
        panel = load_panel(ctx.selection)
        population = population_of(panel, window)
        need = None
        if rule == "need":
            world = steps.params_scores(ctx.selection, ctx.catalog, ctx.params)
            membership = gp.indicator_membership(ctx.catalog, [])
            under = gp.under_shares(world_verdicts_or_none(ctx), membership)
            needs = gp.need_scores(pillar_and_country_scores(world), under)
            overall = needs[needs["level"] == "country"].set_index("iso3")["need"]
            need = overall.dropna()
        allocation = allocate_pledges(pledges, economies, rule, population=population, need=need)
        unresolved = unresolved_targets(pledges, economies["iso3"])
        return {"allocation": allocation, "unresolved": unresolved}

    return cached_frames(steps.ALLOCATION.name, key, compute)


def precompute(selection, params) -> None:
    """Batch hook: allocate every pledge to economies once, under ``params``' rule."""
    from p2c_research.catalog import load_catalog
    from p2c_research.context import RunContext

    ctx = RunContext(params=params, selection=selection, catalog=load_catalog(), out_dir=Path("."))
    world_allocation(ctx)
