"""The headline peer set (ITU-D region, World Bank region for non-members) and thin percentiles.

One choice (``params.headline_peers``) feeds the landscape tables, the
benchmark scatters, the regional pledge map, every report's header and the
index; a percentile over fewer than ``analysis.peer_min_n`` peers is NaN in
the data and "too few peers (n)" on the page. Expected peer lists are read
from the resource with the csv module, not through the package.
"""

from __future__ import annotations

import csv
import html
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import WINDOW, make_panel

from p2c_research import countries
from p2c_research.analyses.landscape import country_landscape
from p2c_research.analyses.peers import mask_thin_percentiles
from p2c_research.analyses.scores import world_scores
from p2c_research.config import RESOURCES_DIR, project_root
from p2c_research.context import open_context
from p2c_research.datasets import select_data
from p2c_research.params import headline_peers, load_params, resolve_peer_sets
from p2c_research.report_io import percentile_text, report_header
from p2c_research.reports import benchmark_report, landscape_report, pledge_report
from p2c_research.runner.index import write_index

SAMPLE_PANEL = project_root() / "data" / "sample" / "panel.parquet"
needs_sample = pytest.mark.skipif(not SAMPLE_PANEL.exists(), reason="embedded sample not built")


def resource_members(region: str) -> set[str]:
    """World Bank economies of one ITU-D region, read straight from the CSV."""
    economies = set(countries.load_countries()["iso3"])
    with open(Path(RESOURCES_DIR) / "itu_regions.csv", newline="", encoding="utf-8") as fh:
        return {r["iso3"] for r in csv.DictReader(fh)
                if r["itu_region"] == region and r["iso3"] in economies}


@pytest.fixture
def params_copy(tmp_path, project_root):
    folder = tmp_path / "params"
    shutil.copytree(project_root / "params", folder)
    return folder


# --------------------------------------------------------------------------- the choice
@pytest.mark.parametrize(("iso3", "region"), [("KHM", "Asia & Pacific"), ("MDG", "Africa"),
                                              ("DOM", "Americas"), ("MRT", "Arab States")])
def test_partner_headline_peers_are_its_itu_d_region(iso3, region):
    params = load_params(iso3)
    head = headline_peers(params)
    assert head.label == f"{region} (ITU-D region)"
    assert head.basis == "itu_region"
    assert set(head.members) == resource_members(region) - {iso3}
    assert next(iter(resolve_peer_sets(params))) == head.label
    assert f"{head.n} economies besides" in head.sentence


def test_khm_keeps_asean_as_an_extra_set_and_mrt_has_no_hand_list():
    khm = load_params("KHM")
    sets = resolve_peer_sets(khm)
    assert "ASEAN members" in sets and headline_peers(khm).label != "ASEAN members"
    assert len(headline_peers(khm).members) == 38
    mrt = load_params("MRT")
    assert mrt.peer_groups.itu_region is True and mrt.peer_groups.explicit == []
    arab = headline_peers(mrt).members
    assert len(arab) == 21 and {"MAR", "DZA", "SDN", "SOM", "COM"} <= set(arab)
    # MDG's Africa is ITU's: no Arab League member of North or East Africa
    assert not {"DZA", "EGY", "SDN", "SOM", "DJI"} & set(headline_peers(load_params("MDG")).members)


@pytest.mark.parametrize(("iso3", "wb_region"), [("HKG", "East Asia & Pacific"),
                                                 ("PRI", "Latin America & Caribbean")])
def test_non_member_falls_back_to_its_world_bank_region_and_says_so(iso3, wb_region):
    params = load_params(iso3)
    name = params.country_name
    head = headline_peers(params)
    assert head.basis == "wb_region_fallback"
    assert head.label == f"{wb_region} (World Bank region; {name} is not an ITU member)"
    assert set(head.members) == set(countries.group_members(wb_region)) - {iso3}
    assert f"{name} is not an ITU member, so it has no ITU-D region" in head.sentence
    sets = resolve_peer_sets(params)
    assert f"{wb_region} (World Bank region)" not in sets  # one set, not the same one twice
    header = html.unescape(report_header(params, select_data("sample"), "Landscape"))
    assert f"{name} is not an ITU member" in header
    assert f"Headline peers: {wb_region} (World Bank region), {head.n} economies" in header


def test_switching_itu_region_off_restores_explicit_or_world_bank_peers(params_copy):
    (params_copy / "defaults.yaml").write_text(
        (params_copy / "defaults.yaml").read_text().replace("itu_region: true",
                                                            "itu_region: false"))
    khm = load_params("KHM", directory=params_copy)
    assert khm.peer_groups.itu_region is False
    assert headline_peers(khm).label == "ASEAN members"
    assert not any("ITU-D" in label for label in resolve_peer_sets(khm))
    mdg = load_params("MDG", directory=params_copy)
    assert headline_peers(mdg).label == "Sub-Saharan Africa (World Bank region)"
    pri = headline_peers(load_params("PRI", directory=params_copy))
    assert pri.label == "Latin America & Caribbean (World Bank region)"
    assert "not an ITU member" not in pri.sentence


def test_defaults_turn_the_itu_region_on(project_root):
    assert "itu_region: true" in (project_root / "params" / "defaults.yaml").read_text()
    assert load_params("TUV").peer_groups.itu_region is True


@pytest.mark.parametrize("iso3", ["KHM", "MRT", "PRI"])
def test_the_three_reports_draw_the_same_headline_set(iso3):
    params = load_params(iso3)
    head = headline_peers(params)
    sets = resolve_peer_sets(params)
    assert benchmark_report._highlight_set(params, sets) == (head.label, head.members)
    label, region = pledge_report._map_region(params)
    assert label == head.region_name
    assert region == sorted({*head.members, iso3})
    if iso3 == "MRT":
        assert label == "Arab States (ITU-D region)"
    if iso3 == "PRI":
        assert label == "Latin America & Caribbean (World Bank region)"


# --------------------------------------------------------------------------- thin percentiles
def test_percentile_text():
    assert percentile_text(62.4, 20) == "62"
    assert percentile_text(np.nan, 9) == "too few peers (9)"
    assert percentile_text(np.nan, 9, has_value=False) == "n/a"
    assert percentile_text(np.nan, 0) == "n/a"


def test_mask_keeps_peer_n_and_numeric_columns():
    stats = pd.DataFrame({"peer_n": [14, 15, 0], "peer_percentile": [40.0, 60.0, np.nan]})
    out = mask_thin_percentiles(stats, 15)
    assert out["peer_percentile"].isna().tolist() == [True, False, True]
    assert out["peer_n"].tolist() == [14, 15, 0]
    assert out["peer_percentile"].dtype == "float64"


def _panel(catalog, economies: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for c in economies:
        for ind in catalog.scored:
            lo, hi = ind.goalposts.lower, ind.goalposts.upper
            rows.append((c, ind.id, 2020, rng.uniform(lo + 0.05 * (hi - lo), hi)))
    return make_panel(rows)


def test_few_peers_give_too_few_peers_text_and_many_a_number(catalog, tmp_path):
    big = [f"P{k:02d}" for k in range(20)]
    small = big[:5]
    panel = _panel(catalog, ["XXX", *big])
    world = world_scores(panel, catalog, WINDOW, 0.5)
    many = country_landscape(world, panel, "XXX", {"many": big}, country_name="Testland")
    few = country_landscape(world, panel, "XXX", {"few": small}, country_name="Testland")

    # data: NaN percentile, peer_n kept, numbers stay numbers in the CSV
    assert few.pillar_scores["peer_percentile"].isna().all()
    assert (few.pillar_scores["peer_n"] == 5).all()
    assert many.pillar_scores["peer_percentile"].notna().all()
    few.pillar_scores.to_csv(tmp_path / "p.csv", index=False)
    back = pd.read_csv(tmp_path / "p.csv")
    assert back["peer_percentile"].dtype == "float64" and back["peer_n"].dtype == "int64"
    both = country_landscape(world, panel, "XXX", {"many": big, "few": small})
    by_set = both.peer_stats[both.peer_stats["level"] == "indicator"].groupby("peer_set")
    assert by_set["peer_percentile"].count()["few"] == 0
    assert by_set["peer_percentile"].count()["many"] > 0

    # display: the same cells read "too few peers (5)" or the rounded number
    shown_few = landscape_report._level_display(few.pillar_scores, ["pillar"])
    assert shown_few["percentile"].tolist() == ["too few peers (5)"] * 3
    shown_many = landscape_report._level_display(many.pillar_scores, ["pillar"])
    assert shown_many["percentile"].tolist() == [
        f"{p:.0f}" for p in many.pillar_scores["peer_percentile"]]
    scores_few = landscape_report._scores_display(few.scores)
    assert (scores_few["percentile"] == "too few peers (5)").sum() == len(catalog.scored)
    subs_few = landscape_report._level_display(few.sub_pillar_scores, ["pillar", "sub_pillar"])
    assert set(subs_few["percentile"]) == {"too few peers (5)"}

    # findings: no number is quoted over five peers, and the reason is given
    texts = [f.text for f in few.findings]
    assert not any("% of peers" in t for t in texts)
    assert any("too few peers (5)" in t for t in texts)
    assert any("% of peers" in f.text for f in many.findings)

    # the minimum comes from params: lowered to 5, the small set gets numbers
    five = country_landscape(world, panel, "XXX", {"few": small}, peer_min_n=5)
    assert five.pillar_scores["peer_percentile"].notna().all()


# --------------------------------------------------------------------------- reports, index
@needs_sample
@pytest.mark.slow  # builds reports
def test_landscape_reports_name_the_headline_set(tmp_path, monkeypatch):
    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    khm = landscape_report.build(open_context("KHM", "", "sample", str(tmp_path / "o")))
    assert khm.ok, khm.error
    assert khm.landscape.peer_set == "Asia & Pacific (ITU-D region)"
    assert set(khm.landscape.pillar_scores["peer_set"]) == {"Asia & Pacific (ITU-D region)"}
    table = khm.landscape.peer_sets_table().set_index("peer_set")
    assert table.loc["Asia & Pacific (ITU-D region)", "headline"]
    assert table.loc["Asia & Pacific (ITU-D region)", "n_economies"] == 38
    assert not table.loc["ASEAN members", "headline"]

    pri = landscape_report.build(open_context("PRI", "", "sample", str(tmp_path / "o")))
    assert pri.ok, pri.error
    assert pri.landscape.peer_set == ("Latin America & Caribbean (World Bank region; "
                                   "Puerto Rico is not an ITU member)")
    caption = pri.sections.pillars.parts[0]
    assert "Puerto Rico is not an ITU member" in caption


def test_index_shows_headline_peers_n_and_thin_percentiles(tmp_path):
    out = tmp_path / "out"
    rows = {"KHM": ("Asia & Pacific (ITU-D region)", 38, [62.0, np.nan, 41.0], [30, 9, 25]),
            "PRI": ("Latin America & Caribbean (World Bank region; Puerto Rico is not an ITU "
                    "member)", 41, [55.0, 50.0, 45.0], [35, 35, 35])}
    outputs = []
    for iso3, (label, n, pct, peer_n) in rows.items():
        tables = out / iso3 / "tables"
        tables.mkdir(parents=True)
        pd.DataFrame({"iso3": iso3, "peer_set": [label, "High income (World Bank)"],
                      "n_economies": [n, 84], "headline": [True, False],
                      "peer_min_n": 15}).to_csv(tables / "peer_sets.csv", index=False)
        pd.DataFrame({"iso3": iso3, "pillar": ["ACCESS", "ADOPTION", "VALUE_CREATION"],
                      "score": [50.0, 40.0, 30.0], "coverage": [0.8, 0.6, 0.5],
                      "peer_set": label, "peer_n": peer_n, "peer_percentile": pct}
                     ).to_csv(tables / "pillar_scores.csv", index=False)
        outputs.append({"country": iso3, "notebook": "landscape", "status": "ok",
                        "html": f"{iso3}/01_landscape.html"})
    (out / "manifest.json").write_text(json.dumps({"outputs": outputs}))
    page = write_index(out).read_text()
    assert "<th>Headline peers</th>" in page
    assert "Asia &amp; Pacific (ITU-D region)<br><small>n = 38 economies</small>" in page
    assert "Puerto Rico is not an ITU member)<br><small>n = 41 economies</small>" in page
    assert "percentile 62" in page
    assert "percentile too few peers (9)" in page
