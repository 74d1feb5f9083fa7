"""The portfolio page: every country of a batch side by side, read from the countries' own tables.

Unit tests on hand-made frames; a synthetic output folder of all 217 economies
(the table and the figure are produced and grow with it); the notebook on a
small folder with a failed country; and the four partners' batch
(``partner_outputs``), whose page must hold exactly what their reports wrote.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p2c_research import countries
from p2c_research.analyses.portfolio import (
    NO_REGION,
    PORTFOLIO_COLUMNS,
    CountryRun,
    pair_comparison,
    portfolio_table,
)
from p2c_research.labels import is_raw_id
from p2c_research.reports import portfolio_report

PARTNERS = ("KHM", "MDG", "DOM", "MRT")
NOTEBOOKS = ("landscape", "benchmarking", "pledge_gap_map")
VERDICT_SCALE = ["well below", "below", "on par", "above", "well above", "no verdict", "no data"]


# --------------------------------------------------------------------------- synthetic tables
def _country_tables(code: str, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The four tables the portfolio reads, for one country, with random but valid values."""
    pillars = pd.DataFrame({
        "iso3": code, "pillar": ["ACCESS", "ADOPTION", "VALUE_CREATION"],
        "score": rng.uniform(0, 100, 3), "coverage": 1.0,
        "peer_set": "Peers", "peer_n": [30, 4, 30],
        "peer_percentile": [rng.uniform(0, 100), np.nan, rng.uniform(0, 100)]})
    verdicts = pd.DataFrame({"iso3": code, "indicator": [f"i{k}" for k in range(10)],
                             "verdict": rng.choice(VERDICT_SCALE, 10)})
    gaps = pd.DataFrame({
        "iso3": code, "level": ["priority", "priority", "priority", "country"],
        "group_id": ["p1", "p2", "p3", "all"], "title": ["First", "Second", "Third", "All"],
        "gap_index": [10.0, 40.0, np.nan, 20.0], "need": [50.0, 60.0, np.nan, 55.0],
        "usd_per_capita": [1.0, 0.5, 2.0, 3.5],
        "flag": ["supported", "high need, thin support", "no data", "moderate"],
        "need_class": ["mid", "high", np.nan, "high"], "support_class": ["high", "low", np.nan, "mid"],
        "pledge_basis": "synthetic pledges: illustrative, not real commitments"})
    scores = pd.DataFrame({"iso3": code, "indicator": [f"i{k}" for k in range(8)],
                           "score": [1.0, 2.0, np.nan, 4.0, np.nan, 6.0, 7.0, 8.0]})
    return {"pillar_scores": pillars, "verdicts": verdicts, "pledge_gaps": gaps,
            "landscape_scores": scores}


def _write_folder(out: Path, codes: list[str], failed: dict[str, str] | None = None) -> Path:
    """A batch output folder: a manifest and each country's tables, as a batch leaves them."""
    failed = failed or {}
    rng = np.random.default_rng(7)
    entries = []
    for code in codes:
        tables = _country_tables(code, rng)
        folder = out / code / "tables"
        folder.mkdir(parents=True)
        for name, frame in tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False)
        for nb in NOTEBOOKS:
            bad = failed.get(code) == nb
            entries.append({"country": code, "notebook": nb, "status": "failed" if bad else "ok",
                            "error": f"ValueError: broken {nb}" if bad else ""})
    manifest = {"generated_at": "2026-01-01T00:00:00+00:00",
                "data": {"description": "Data: a synthetic test folder. Pledges: SYNTHETIC."},
                "outputs": entries}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _reference(codes):
    return pd.DataFrame({"iso3": codes, "name": [f"Country {c}" for c in codes],
                         "itu_region": ["Europe", "Africa", None][: len(codes)]})


# --------------------------------------------------------------------------- unit
def test_portfolio_row_holds_the_values_of_the_country_tables():
    rng = np.random.default_rng(1)
    tables = _country_tables("AAA", rng)
    row = portfolio_table(tables, [CountryRun("AAA", "ok")], _reference(["AAA"])).iloc[0]
    pillars = tables["pillar_scores"].set_index("pillar")
    assert row["access_score"] == pillars.loc["ACCESS", "score"]
    assert row["access_percentile"] == pillars.loc["ACCESS", "peer_percentile"]
    assert np.isnan(row["adoption_percentile"]) and row["adoption_peer_n"] == 4
    counts = tables["verdicts"]["verdict"].value_counts()
    assert row["well_below"] == counts.get("well below", 0)
    assert row["on_par"] == counts.get("on par", 0)
    assert row["no_data"] == counts.get("no data", 0)
    assert row["priorities"] == 3 and row["priorities_thin_support"] == 1
    assert row["top_gap_priority"] == "Second" and row["top_gap_index"] == 40.0
    assert row["need"] == 55.0 and row["usd_per_capita"] == 3.5 and row["gap_flag"] == "moderate"
    assert (row["indicators_scored"], row["indicators_total"]) == (6, 8)
    assert row["data_coverage"] == pytest.approx(75.0)
    assert row["itu_region"] == "Europe" and row["status"] == "ok"


def test_failed_report_tables_are_not_shown_and_the_country_stays_listed():
    rng = np.random.default_rng(2)
    tables = _country_tables("AAA", rng)
    run = CountryRun("AAA", "failed", ("benchmarking",), "benchmarking: ValueError: boom")
    row = portfolio_table(tables, [run], _reference(["AAA"])).iloc[0]
    assert row["status"] == "failed" and "boom" in row["error"]
    assert pd.isna(row["well_below"]) and pd.isna(row["on_par"])  # stale verdicts not read
    assert row["access_score"] == tables["pillar_scores"]["score"].iloc[0]  # landscape succeeded


def test_rows_are_ordered_by_itu_region_then_country_with_non_members_last():
    codes = ["ZZZ", "AAA", "MMM"]
    ref = pd.DataFrame({"iso3": codes, "name": ["Zed", "Alpha", "Mid"],
                        "itu_region": ["Africa", None, "Africa"]})
    frame = portfolio_table({}, [CountryRun(c, "ok") for c in codes], ref)
    assert frame["iso3"].tolist() == ["MMM", "ZZZ", "AAA"]
    assert frame["itu_region"].tolist() == ["Africa", "Africa", NO_REGION]
    assert list(frame.columns) == PORTFOLIO_COLUMNS


def test_country_runs_from_the_manifest():
    manifest = {"outputs": [
        {"country": "KHM", "notebook": "landscape", "status": "ok"},
        {"country": "KHM", "notebook": "benchmarking", "status": "skipped"},
        {"country": "MDG", "notebook": "landscape", "status": "failed", "error": "KeyError: x"},
    ]}
    runs = {r.iso3: r for r in portfolio_report.country_runs(manifest, ["KHM", "MDG", "DOM"])}
    assert runs["KHM"].status == "ok"
    assert runs["MDG"].status == "failed" and runs["MDG"].failed_notebooks == ("landscape",)
    assert "KeyError: x" in runs["MDG"].error
    assert runs["DOM"].status == "not run"
    assert [r.iso3 for r in portfolio_report.country_runs(manifest, [])] == ["KHM", "MDG"]


def test_pair_comparison_puts_two_countries_side_by_side():
    pillars = pd.DataFrame({"iso3": ["A", "A", "B"], "pillar": ["ACCESS", "ADOPTION", "ACCESS"],
                            "score": [60.0, 40.0, 70.0], "coverage": [1.0, 0.5, 1.0]})
    indicators = pd.DataFrame({"iso3": ["A", "B", "B"], "indicator": ["x", "x", "y"],
                               "year": [2020, 2021, 2022], "value": [1.0, 2.0, 3.0],
                               "score": [10.0, 20.0, 30.0]})
    pair = pair_comparison("A", "B", pillars, indicators, ["y", "z", "x"])
    access = pair.pillars.set_index("pillar").loc["ACCESS"]
    assert (access["score_a"], access["score_b"], access["difference"]) == (60.0, 70.0, 10.0)
    assert np.isnan(pair.pillars.set_index("pillar").loc["ADOPTION", "score_b"])
    assert pair.indicators["indicator"].tolist() == ["y", "x"]  # catalog order, z has no value
    x = pair.indicators.set_index("indicator").loc["x"]
    assert (x["value_a"], x["year_a"], x["value_b"], x["year_b"]) == (1.0, 2020, 2.0, 2021)


# --------------------------------------------------------------------------- 217 economies
def _header_texts(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", html)]


@pytest.mark.slow  # a 217-row page and its figure
def test_all_217_economies_give_a_full_table_and_a_taller_figure(tmp_path):
    from p2c_research.figures.portfolio import figure_height

    codes = sorted(countries.load_countries()["iso3"])
    assert len(codes) == 217
    out = _write_folder(tmp_path / "out", codes)
    result = portfolio_report.build([], out)
    saved = portfolio_report.save(result, out)

    csv = pd.read_csv(saved[portfolio_report.CSV_NAME], keep_default_na=False, na_values=[""])
    assert len(csv) == 217 and sorted(csv["iso3"]) == codes
    regions = countries.load_itu_regions().set_index("iso3")["itu_region"]
    members = csv["iso3"].isin(regions.index)
    assert (csv.loc[members, "itu_region"] == csv.loc[members, "iso3"].map(regions)).all()
    assert (csv.loc[~members, "itu_region"] == NO_REGION).all()

    html = portfolio_report.table_html(result.table)
    body = html.split("<tbody>", 1)[1]
    assert body.count('<tr class="region">') == csv["itu_region"].nunique() == 7
    assert body.count("<tr>") == 217
    assert not [h for h in _header_texts(html) if is_raw_id(h)]

    from PIL import Image

    height = Image.open(saved[portfolio_report.FIGURE_NAME]).height
    small = portfolio_report.build(["KHM", "MDG", "DOM", "MRT"], out)
    small_png = Image.open(portfolio_report.save(small, out)[portfolio_report.FIGURE_NAME])
    assert height > 5 * small_png.height  # a row keeps its height: the figure grows
    assert figure_height(217, 7) > 5 * figure_height(4, 4)


# --------------------------------------------------------------------------- the notebook
@pytest.mark.slow  # executes a notebook
def test_notebook_lists_a_failed_country_as_failed(tmp_path):
    from p2c_research.runner.portfolio import run_portfolio

    out = _write_folder(tmp_path / "out", ["KHM", "MDG", "FRA"],
                        failed={"MDG": "pledge_gap_map"})
    status = run_portfolio(out, ["KHM", "MDG", "FRA", "DOM"])
    assert status is not None and status.status == "ok", status and status.error
    html = (out / "portfolio.html").read_text()
    for name in ("Cambodia", "Madagascar", "France", "Dominican Republic"):
        assert name in html
    assert "broken pledge_gap_map" in html  # the failure, with its error
    assert "no report of this country" in html  # DOM: asked for, never run
    csv = pd.read_csv(out / "portfolio.csv").set_index("iso3")
    assert csv.loc["MDG", "status"] == "failed" and pd.isna(csv.loc["MDG", "need"])
    assert csv.loc["DOM", "status"] == "not run"
    assert csv.loc["KHM", "status"] == "ok"
    assert "<script src=" not in html and "p2c-portfolio-table" in html
    assert (out / "portfolio.ipynb").exists() and not (out / ".portfolio.running.ipynb").exists()


# --------------------------------------------------------------------------- the partners
@pytest.mark.slow
def test_partner_portfolio_holds_each_countrys_own_values(partner_outputs):
    out = partner_outputs
    html = (out / "portfolio.html").read_text()
    portfolio = pd.read_csv(out / "portfolio.csv").set_index("iso3")
    assert sorted(portfolio.index) == sorted(PARTNERS)
    assert (portfolio["status"] == "ok").all()
    regions = countries.load_itu_regions().set_index("iso3")["itu_region"]
    for code in PARTNERS:
        row = portfolio.loc[code]
        assert countries.iso3_to_name(code) in html
        assert row["itu_region"] == regions[code]
        pillars = pd.read_csv(out / code / "tables" / "pillar_scores.csv").set_index("pillar")
        for pillar in ("ACCESS", "ADOPTION", "VALUE_CREATION"):
            key = pillar.lower()
            assert row[f"{key}_score"] == pytest.approx(pillars.loc[pillar, "score"], rel=1e-12,
                                                        nan_ok=True)
            assert row[f"{key}_percentile"] == pytest.approx(
                pillars.loc[pillar, "peer_percentile"], rel=1e-12, nan_ok=True)
        verdicts = pd.read_csv(out / code / "tables" / "verdicts.csv")["verdict"]
        for verdict in VERDICT_SCALE:
            assert row[verdict.replace(" ", "_")] == int((verdicts == verdict).sum())
        gaps = pd.read_csv(out / code / "tables" / "pledge_gaps.csv")
        country = gaps[gaps["level"] == "country"].iloc[0]
        assert row["need"] == pytest.approx(country["need"], rel=1e-12)
        assert row["usd_per_capita"] == pytest.approx(country["usd_per_capita"], rel=1e-12)
        priorities = gaps[gaps["level"] == "priority"]
        assert row["priorities"] == len(priorities)
        assert row["priorities_thin_support"] == (priorities["flag"] == "high need, thin support").sum()
        scores = pd.read_csv(out / code / "tables" / "landscape_scores.csv")
        assert row["indicators_scored"] == scores["score"].notna().sum()
        assert row["indicators_total"] == len(scores)
    assert not [h for h in _header_texts(html.split("p2c-portfolio-table", 1)[1]) if is_raw_id(h)]
    assert "SYNTHETIC" in html and "CC BY-NC-SA 3.0 IGO" in html  # data line and licence
    assert (out / "portfolio_pillar_scores.png").stat().st_size > 10_000


@pytest.mark.slow
def test_resumed_batch_writes_the_portfolio_again(partner_outputs, tmp_path):
    from p2c_research.runner.batch import run_batch

    out = tmp_path / "resumed"
    shutil.copytree(partner_outputs, out)
    (out / "portfolio.html").unlink()
    (out / "portfolio.csv").unlink()
    assert run_batch(list(PARTNERS), out_dir=out, data="sample", local=True, progress=False,
                     resume=True) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {e["status"] for e in manifest["outputs"]} == {"skipped"}
    assert len(pd.read_csv(out / "portfolio.csv")) == 4
    assert "Mauritania" in (out / "portfolio.html").read_text()


@pytest.mark.slow
def test_a_dask_batch_writes_the_portfolio_on_a_worker(partner_outputs, tmp_path):
    """Not local: the countries are skipped on a worker and the page is rewritten there."""
    from p2c_research.runner.batch import run_batch

    out = tmp_path / "dask"
    shutil.copytree(partner_outputs, out)
    for name in ("portfolio.html", "portfolio.csv", "portfolio.ipynb"):
        (out / name).unlink()
    assert run_batch(list(PARTNERS), out_dir=out, data="sample", workers=1, progress=False,
                     resume=True) == 0
    assert sorted(pd.read_csv(out / "portfolio.csv")["iso3"]) == sorted(PARTNERS)
    assert "Mauritania" in (out / "portfolio.html").read_text()
    assert (out / "portfolio.ipynb").exists()
    assert 'href="portfolio.html"' in (out / "index.html").read_text()


def test_a_worker_lost_while_writing_the_portfolio_is_recorded_not_raised(tmp_path):
    from p2c_research.runner.batch import _write_portfolio

    class LostWorker:
        def submit(self, *args, **kwargs):
            raise OSError("worker at tcp://127.0.0.1:1 closed")

    status = _write_portfolio(tmp_path, ["KHM"], None, LostWorker())
    assert status is not None and status.status == "failed"
    assert "worker failed" in status.error and "closed" in status.error
