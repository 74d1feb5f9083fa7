"""The one report contract (:mod:`p2c_research.reports.contract`): every report module has
``build`` and ``save``, every section of every report renders, and the notebooks show the
sections by attribute, each of them, in reading order, none picked by a string key."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from p2c_research.config import project_root
from p2c_research.escaping import md_code
from p2c_research.reports import (
    benchmark_report,
    landscape_report,
    pledge_report,
    portfolio_report,
)
from p2c_research.reports.contract import Section, member_names, members

SAMPLE_PANEL = project_root() / "data" / "sample" / "panel.parquet"
needs_sample = pytest.mark.skipif(not SAMPLE_PANEL.exists(), reason="embedded sample not built")

#: Each notebook, its report module and the class of its ``report.sections``.
NOTEBOOKS = {
    "01_landscape.ipynb": (landscape_report, landscape_report.LandscapeSections),
    "02_benchmarking.ipynb": (benchmark_report, benchmark_report.BenchmarkSections),
    "03_pledge_gap_map.ipynb": (pledge_report, pledge_report.PledgeSections),
    "04_portfolio.ipynb": (portfolio_report, portfolio_report.PortfolioSections),
}
#: The only call a notebook may pass a string literal to: the page header's title.
STRING_ARGUMENT_ALLOWED = {"header"}


def _code_cells(name: str) -> list[str]:
    nb = nbformat.read(project_root() / "notebooks" / name, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"
            and "parameters" not in c.metadata.get("tags", [])]


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


@pytest.mark.parametrize("module", [m for m, _ in NOTEBOOKS.values()],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_report_module_has_build_and_save(module) -> None:
    assert callable(module.build) and callable(module.save)
    params = list(inspect.signature(module.save).parameters)
    assert params[:2] == ["report", "out"] or params[:2] == ["portfolio", "out"], params
    assert len(params) == 2


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_notebooks_pass_no_string_as_a_section_key(notebook: str) -> None:
    offences = []
    for source in _code_cells(notebook):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and _called_name(node) not in STRING_ARGUMENT_ALLOWED:
                args = [*node.args, *(k.value for k in node.keywords)]
                if any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                    offences.append(ast.unparse(node))
            if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                    and isinstance(node.slice.value, str)):
                offences.append(ast.unparse(node))
    assert not offences, f"{notebook} picks by string key: {offences}"


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_notebooks_build_save_and_show_every_section_in_order(notebook: str) -> None:
    module, sections_class = NOTEBOOKS[notebook]
    short = module.__name__.rsplit(".", 1)[-1]
    cells = _code_cells(notebook)
    shown = []
    for source in cells:
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "sections"):
                shown.append(node.attr)
    assert shown == member_names(sections_class)
    calls = [ast.unparse(n.value) for s in cells for n in ast.parse(s).body
             if isinstance(n, ast.Assign)]
    assert any(c.startswith(f"{short}.build(") for c in calls), calls
    assert any(c.startswith(f"{short}.save(report, ") for c in calls), calls


def _check_report(report, saved: dict[str, Path], out: Path) -> None:
    """Every table is a frame written as its CSV, every file exists, every section renders."""
    tables = list(members(report.tables))
    assert tables
    for name, frame in tables:
        assert isinstance(frame, pd.DataFrame)
        written = saved[f"{name}.csv"]
        assert written.is_file() and written.is_relative_to(out)
        assert list(pd.read_csv(written, nrows=0).columns) == [str(c) for c in frame.columns]
    assert all(p.is_file() and p.stat().st_size > 0 for p in saved.values())
    assert any(p.suffix == ".png" for p in saved.values())
    names = [n for n, _ in members(report.sections)]
    assert names == member_names(report.sections)
    for name, section in members(report.sections):
        assert isinstance(section, Section), name
        assert section.title and section.parts, name
        assert section.displayables(), name


@needs_sample
@pytest.mark.slow  # builds KHM's three reports and the portfolio page
def test_every_section_of_each_report_renders_for_cambodia(tmp_path, monkeypatch) -> None:
    from p2c_research.context import open_context

    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    ctx = open_context("KHM", "", "sample", str(out))
    entries = []
    for module, nb in ((landscape_report, "landscape"), (benchmark_report, "benchmarking"),
                       (pledge_report, "pledge_gap_map")):
        report = module.build(ctx)
        saved = module.save(report, ctx.out_dir)
        assert report.saved == saved
        _check_report(report, saved, out)
        entries.append({"country": "KHM", "notebook": nb, "status": "ok", "error": ""})
    figures = dict(members(report.figures))  # the pledge report: the eight maps and charts
    assert {f"{n}.png" for n in figures} <= set(saved)
    files = report.sections.files.markdown()
    assert all(md_code(f"KHM/{p.parent.name}/{p.name}") in files for p in saved.values())

    (out / "manifest.json").write_text(json.dumps({
        "generated_at": "2026-01-01T00:00:00+00:00",
        "data": {"description": "Data: embedded sample. Pledges: SYNTHETIC."},
        "outputs": entries}))
    portfolio = portfolio_report.build(["KHM"], out)
    saved = portfolio_report.save(portfolio, out)
    assert set(saved) == {portfolio_report.CSV_NAME, portfolio_report.FIGURE_NAME}
    assert pd.read_csv(saved[portfolio_report.CSV_NAME])["iso3"].tolist() == ["KHM"]
    for name, section in members(portfolio.sections):
        assert isinstance(section, Section) and section.displayables(), name
