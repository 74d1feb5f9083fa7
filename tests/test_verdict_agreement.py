"""One verdict everywhere, bounded models on the real sample, and the screen's KHM cases end to end.

Reads the outputs of the four partners' batch (``partner_outputs``) as a reviewer
would: the index page, the HTML reports and the CSV tables, and checks that
they agree with each other and with independent counts.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from p2c_research.analyses.benchmark import world_benchmark
from p2c_research.analyses.verdicts import FLAGGED
from p2c_research.catalog import load_catalog
from p2c_research.datasets import load_panel, select_data

PARTNERS = ("KHM", "MDG", "DOM", "MRT")


def test_no_negative_prediction_interval_or_frontier_on_the_sample_world_fits():
    catalog = load_catalog()
    results = world_benchmark(load_panel(select_data("sample")), catalog, (2015, 2024))
    shares = {i.id for i in catalog.scored if i.bounded_share}
    for frame, cols in ((results.countries, ["predicted", "pi_low", "pi_high", "frontier"]),
                        (results.curves, ["fitted", "pi_low", "pi_high"])):
        values = frame[cols]
        assert not (values < 0).any().any(), frame.loc[(values < 0).any(axis=1)].head()
        assert not (values[frame["indicator"].isin(shares)] > 100).any().any()
    fitted = results.models[results.models["fitted"].astype(bool)]
    assert set(fitted["model"]) >= {"logit_lngdp", "cloglog_lngdp", "log_lngdp", "sqrt_lngdp",
                                    "extended", "quantile_frontier"}
    assert "ols_lngdp" not in set(results.models["model"])  # no unbounded raw-unit line


def _index_flags(index_html: str) -> dict[str, int]:
    """Country code -> "below what its income predicts on N indicator(s)" from the index rows."""
    flags = {}
    for code in PARTNERS:
        row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*?{code}/01_landscape\.html(?:(?!</tr>).)*</tr>',
                        index_html, flags=re.S)
        assert row, code
        found = re.search(r"below what its income predicts on (\d+) indicator", row.group(0))
        flags[code] = int(found.group(1)) if found else 0
    return flags


@pytest.mark.smoke
def test_index_flags_equal_the_verdicts_of_every_report(partner_outputs):
    index = (partner_outputs / "index.html").read_text(encoding="utf-8")
    flags = _index_flags(index)
    for code in PARTNERS:
        tables = partner_outputs / code / "tables"
        verdicts = pd.read_csv(tables / "verdicts.csv")
        n_below = int(verdicts["verdict"].isin(FLAGGED).sum())
        assert flags[code] == n_below, code
        # the benchmarking report's summary counts, as printed
        html = (partner_outputs / code / "02_benchmarking.html").read_text(encoding="utf-8")
        m = re.search(r"(\d+) well above, (\d+) above, (\d+) on par, (\d+) below, "
                      r"(\d+) well below", html)
        counts = dict(zip(["well above", "above", "on par", "below", "well below"],
                          map(int, m.groups()), strict=True))
        assert counts == {v: int((verdicts["verdict"] == v).sum()) for v in counts}, code
        # the benchmark table's preferred rows are the same verdicts
        bench = pd.read_csv(tables / "benchmark.csv")
        pref = bench[bench["preferred"].astype(bool)].set_index("indicator")["verdict"]
        assert pref.to_dict() == verdicts.set_index("indicator")["verdict"].to_dict(), code
        # peer columns repeat the world verdict wherever the peers were not refitted
        peers = pd.read_csv(tables / "peers.csv")
        world = verdicts.set_index("indicator")["verdict"]
        kept = peers[~peers["refit"].astype(bool) & peers["note"].str.contains("world fit")]
        assert (kept["verdict"].to_numpy() == world.reindex(kept["indicator"]).to_numpy()).all()
        # the need measure counts the same below / well below verdicts per priority
        gaps = pd.read_csv(tables / "pledge_gaps.csv")
        scores = pd.read_csv(tables / "priority_scores.csv").set_index("priority_id")
        for rec in gaps[gaps["level"] == "priority"].itertuples():
            listed = scores.loc[rec.priority_id, "indicators"]
            members = str(listed).split(", ") if pd.notna(listed) else []
            mine = verdicts[verdicts["indicator"].isin(members)]
            graded = mine[mine["verdict"].isin(["well below", "below", "on par", "above",
                                                "well above"])]
            assert rec.n_benchmarked == len(graded), (code, rec.priority_id)
            assert rec.n_under == int(graded["verdict"].isin(FLAGGED).sum())


@pytest.mark.smoke
def test_findings_follow_the_verdicts_of_key_indicators(partner_outputs):
    for code in PARTNERS:
        tables = partner_outputs / code / "tables"
        verdicts = pd.read_csv(tables / "verdicts.csv").set_index("indicator")
        findings = pd.read_csv(tables / "findings.csv")
        for rec in findings[findings["table"] == "verdicts"].itertuples():
            row = verdicts.loc[rec.key]
            assert row["key"] and row["verdict"] in FLAGGED
            assert f"is {row['verdict']} what its income predicts" in rec.text
            assert pd.isna(row["quality"]) or row["quality"] == ""
    mrt = pd.read_csv(partner_outputs / "MRT" / "tables" / "findings.csv")
    assert "electricity_access" in set(mrt["key"])  # below what income predicts, a key indicator


@pytest.mark.smoke
def test_khm_quality_cases_are_flagged_and_kept_out_of_trends_and_findings(partner_outputs):
    tables = partner_outputs / "KHM" / "tables"
    flags = pd.read_csv(tables / "data_quality.csv")
    have = set(zip(flags["indicator"], flags["year"], flags["flag"], strict=True))
    assert ("internet_users", 2015, "outlier") in have
    assert ("adult_literacy", 2021, "break") in have
    runs = flags[(flags["indicator"] == "medium_high_tech_manufacturing")
                 & (flags["flag"] == "imputed")]
    assert set(runs["year"]) == set(range(2015, 2023))       # every in-window repeat
    assert ("rd_expenditure", 2015, "stale") in have
    trends = pd.read_csv(tables / "trends.csv").set_index("indicator")
    assert trends.loc["internet_users", "first_year"] > 2015   # 2015 not in the trend
    scores = pd.read_csv(tables / "landscape_scores.csv").set_index("indicator")
    assert pd.isna(scores.loc["rd_expenditure", "score"])      # stale: shown, not scored
    assert pd.isna(scores.loc["medium_high_tech_manufacturing", "score"])
    findings = pd.read_csv(tables / "findings.csv")
    keys = set(findings["key"].str.split("|").str[0])
    assert not keys & {"adult_literacy", "medium_high_tech_manufacturing", "rd_expenditure",
                       "researchers"}
    targets = pd.read_csv(tables / "targets.csv")
    internet = targets[(targets["indicator"] == "internet_users")
                       & (targets["target_kind"] == "national")].iloc[0]
    assert internet["target"] == 90 and internet["target_year"] == 2030
    assert internet["status"] == "not on track"
    assert internet["year_reached"] > 2030


def test_pledge_summary_line_agrees_with_the_need_table(partner_outputs):
    """The summary sentence and the table below it show the same need, support and gap index."""
    from p2c_research.textfmt import sig

    for code in ("KHM", "MDG", "DOM", "MRT"):
        html = (partner_outputs / code / "03_pledge_gap_map.html").read_text(encoding="utf-8")
        gaps = pd.read_csv(partner_outputs / code / "tables" / "pledge_gaps.csv")
        row = gaps[gaps["level"] == "country"].iloc[0]
        said = re.search(r"Overall need (\S+) \(rank.*?pledge support USD (\S+) per person.*?"
                         r"gap index (\S+) \(rank", html, re.S)
        assert said, code
        assert said.groups() == (sig(row["need"]), sig(row["usd_per_capita"]),
                                 sig(row["gap_index"])), code
