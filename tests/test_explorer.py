"""The explorer's logic without a browser: a widget change redraws the right views."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from p2c_research.explorer import REDRAW, Explorer, ViewResult


def _fake_renderers(log):
    def make(view):
        def render(ctx, state):
            log.append((view, state))
            fig = plt.figure()
            return ViewResult(fig, pd.DataFrame({"view": [view], "country": [state.country],
                                                 "peer_group": [state.peer_group],
                                                 "indicator": [state.indicator]}))
        return render
    return {v: make(v) for v in ("wheel", "scatter", "map")}


@pytest.fixture
def explorer(tmp_path):
    log = []
    ex = Explorer("KHM", data="sample", out_dir=tmp_path, renderers=_fake_renderers(log))
    ex.refresh()
    log.clear()
    return ex, log


def test_initial_state_is_consistent(explorer):
    ex, _ = explorer
    st = ex.state
    assert st.country == "KHM" and st.pillar == "ACCESS"
    assert st.peer_group in {label for label in ex.peer_group.options}
    assert st.indicator == "coverage_2g"  # the first ACCESS indicator of the catalog


def test_country_change_redraws_every_view_with_the_new_country(explorer):
    ex, log = explorer
    ex.country.value = "MRT"
    assert sorted(v for v, _ in log) == ["map", "scatter", "wheel"]
    assert {s.country for _, s in log} == {"MRT"}
    # peer choices follow the country: MRT has the explicit Arab States list
    assert any("Arab States" in label for label in ex.peer_group.options)


def test_peer_group_change_redraws_wheel_and_scatter_only(explorer):
    ex, log = explorer
    other = next(g for g in ex.peer_group.options if g != ex.peer_group.value)
    ex.peer_group.value = other
    assert sorted(v for v, _ in log) == sorted(REDRAW["peer_group"])
    assert all(s.peer_group == other for _, s in log)


def test_pillar_change_updates_indicator_choices_and_redraws_map_and_scatter(explorer):
    ex, log = explorer
    ex.pillar.value = "VALUE_CREATION"
    assert ex.indicator.value in {i for _, i in ex.indicator.options}
    assert ex.indicator.value == "rd_expenditure"
    assert sorted(v for v, _ in log) == ["map", "scatter"]


def test_indicator_change_redraws_the_scatter_only(explorer):
    ex, log = explorer
    ex.indicator.value = "secure_servers"
    assert [v for v, _ in log] == ["scatter"]
    assert log[0][1].indicator == "secure_servers"


def test_export_writes_png_and_csv_of_the_current_views(explorer, tmp_path):
    ex, _ = explorer
    written = ex.export_view()
    assert len(written) == 6
    for path in written:
        assert path.exists() and path.stat().st_size > 0
        assert path.parent == tmp_path / "explorer" / "KHM"
    csv = pd.read_csv(next(p for p in written if p.name.startswith("scatter_")
                       and p.suffix == ".csv"))
    assert csv.loc[0, "indicator"] == "coverage_2g"


@pytest.mark.smoke
def test_real_renderers_draw_for_a_partner_country(tmp_path):
    ex = Explorer("DOM", data="sample", out_dir=tmp_path)
    ex.refresh()
    assert ex.errors == {}
    assert set(ex.results) == {"wheel", "scatter", "map"}
    wheel = ex.results["wheel"].data
    assert set(wheel["iso3"]) == {"DOM"} and "peer_median" in wheel
    gaps = ex.results["map"].data
    assert gaps["gap_index"].dropna().between(0, 100).all() and gaps["gap_index"].notna().any()
    ex.indicator.value = "fixed_broadband_subscriptions"
    scatter = ex.results["scatter"].data
    assert set(scatter["indicator"]) == {"fixed_broadband_subscriptions"}


# --------------------------------------------------------------------------- compare two countries
def test_compare_view_redraws_when_either_country_changes(explorer):
    ex, log = explorer
    assert (ex.compare_a.value, ex.compare_b.value) == ("KHM", "MDG")  # the next partner
    ex.compare_b.value = "DOM"
    assert ex.comparison is not None and ex.comparison.pair.b == "DOM"
    assert "Dominican Republic (DOM)" in ex.compare_out.value
    ex.compare_a.value = "MRT"
    assert ex.comparison.pair.a == "MRT" and "Mauritania (MRT)" in ex.compare_out.value
    assert log == []  # the comparison redraws none of the three views


@pytest.mark.slow  # reads the partners' reports
def test_compare_countries_shows_what_their_reports_show(partner_outputs):
    from p2c_research.explorer import compare_countries
    from p2c_research.labels import indicator_label, is_raw_id

    result = compare_countries("KHM", "MDG", data="sample")
    for code, side in (("KHM", "a"), ("MDG", "b")):
        pillars = pd.read_csv(partner_outputs / code / "tables" / "pillar_scores.csv")
        own = result.pair.pillars.set_index("pillar")[f"score_{side}"]
        for pillar, score in zip(pillars["pillar"], pillars["score"], strict=True):
            assert own[pillar] == pytest.approx(score, rel=1e-12, nan_ok=True)
        scores = pd.read_csv(partner_outputs / code / "tables" / "landscape_scores.csv")
        expected = scores.dropna(subset=["value"]).set_index("indicator")["value"]
        values = result.pair.indicators.set_index("indicator")[f"value_{side}"].dropna()
        assert sorted(values.index) == sorted(expected.index)
        for indicator, value in values.items():
            assert value == pytest.approx(expected[indicator], rel=1e-9)
    diff = result.pair.pillars["difference"]
    assert np.allclose(diff, result.pair.pillars["score_b"] - result.pair.pillars["score_a"])
    # the reader sees labels, never an id: the same labels as the reports and the portfolio
    headers = [*result.pillars.columns, *result.indicators.columns]
    assert not [h for h in headers if is_raw_id(h)]
    assert "Cambodia (KHM): Score (0-100)" in result.pillars.columns
    first = result.pair.indicators["indicator"].iloc[0]
    assert result.indicators.iloc[0, 0] == indicator_label(first, with_unit=True)
    assert set(result.pillars.iloc[:, 0]) == {"Access", "Adoption", "Value creation"}
    html = result.html()
    assert "<th>Indicator</th>" in html and "coverage_2g" not in html
