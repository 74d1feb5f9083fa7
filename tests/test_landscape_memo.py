"""The pledge report's action plan reads the landscape notebook's tables only when they are
what it would compute itself."""

from __future__ import annotations

import pytest

from p2c_research import steps
from p2c_research.context import open_context
from p2c_research.reports import landscape_memo
from p2c_research.reports import landscape_report as lr
from p2c_research.reports import pledge_report as pr

PARTNERS = ("KHM", "MDG", "DOM", "MRT", "TUV")


@pytest.fixture(autouse=True)
def _empty_memo():
    landscape_memo.forget()
    yield
    landscape_memo.forget()


@pytest.mark.slow  # five landscapes, each computed twice
@pytest.mark.parametrize("iso3", PARTNERS)
def test_the_kept_tables_equal_what_the_action_plan_computes(iso3, tmp_path) -> None:
    ctx = open_context(iso3, "", "sample", str(tmp_path))
    # Both paths then read the all-country scores from the cache, as batch workers do
    # (a first, fresh computation keeps object rather than string columns).
    steps.params_scores(ctx.selection, ctx.catalog, ctx.params)
    report = lr.build(ctx)
    kept = landscape_memo.recall(ctx)
    assert kept is report.landscape
    landscape_memo.forget()
    world = steps.params_scores(ctx.selection, ctx.catalog, ctx.params)
    computed = pr._landscape(ctx, world)
    assert computed is not kept
    for name in ("scores", "trends", "targets", "quality"):
        assert getattr(kept, name).equals(getattr(computed, name)), name


def test_other_inputs_are_not_served(tmp_path) -> None:
    khm = open_context("KHM", "", "sample", str(tmp_path))
    landscape_memo.remember(khm, "tables of KHM")
    assert landscape_memo.recall(open_context("KHM", "", "sample", str(tmp_path))) == \
        "tables of KHM"
    assert landscape_memo.recall(open_context("MDG", "", "sample", str(tmp_path))) is None
    other_params = open_context("KHM", "", "sample", str(tmp_path))
    other_params.params = other_params.params.model_copy(update={"reference_year": 2020})
    assert landscape_memo.recall(other_params) is None
    no_itu = open_context("KHM", "", "sample:no-itu", str(tmp_path))
    assert landscape_memo.recall(no_itu) is None
