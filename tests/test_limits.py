"""Smaller limits and plain statements: params size, XLSX formulas without saved values,
a panel without its sidecar, and what a local import reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from p2c_research.errors import DataError, ParamsError
from p2c_research.params import MAX_PARAMS_BYTES, load_params

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_a_params_file_over_the_limit_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    big = tmp_path / "KHM.yaml"
    big.write_text("country: KHM\n# " + "x" * MAX_PARAMS_BYTES + "\n")
    import p2c_research.params as params_module

    parsed = []
    monkeypatch.setattr(params_module, "parse_yaml", lambda text: parsed.append(text) or {})
    with pytest.raises(ParamsError, match=r"KHM\.yaml: 1,000,016 bytes, over the 1,000,000-byte "
                                          r"limit for a params file"):
        load_params("KHM", big)
    assert parsed == [] or all(len(t) < MAX_PARAMS_BYTES for t in parsed)  # only the defaults


def _export_frame(n: int = 4) -> pd.DataFrame:
    from p2c_research.pledges.synthetic import generate_pledges

    rows = generate_pledges().head(n).copy()
    for column in ("start_date", "end_date"):
        rows[column] = rows[column].dt.strftime("%Y-%m-%d")
    rows["usd_value"] = rows["usd_value"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    return rows.astype(str).reset_index(drop=True)


def test_xlsx_formulas_without_saved_values_are_rejected_with_their_row(tmp_path):
    """openpyxl writes formulas without their results, as some exporters do; read for
    values, such a cell is empty and its pledge would lose its number without a word."""
    from openpyxl import load_workbook

    from p2c_research.sources.pledges import import_pledges, unsaved_formulas

    export = tmp_path / "export.xlsx"
    _export_frame().to_excel(export, index=False, sheet_name="Pledges")
    book = load_workbook(export)
    sheet = book["Pledges"]
    headers = [c.value for c in sheet[1]]
    usd = headers.index("usd_value") + 1
    sheet.cell(row=3, column=usd, value="=1000*12")  # file row 3: its usd_value is a formula
    sheet.cell(row=5, column=headers.index("description") + 1, value='=A5&" extra"')
    book.save(export)
    assert unsaved_formulas(export) == {(3, usd - 1): "=1000*12",
                                        (5, headers.index("description")): '=A5&" extra"'}
    result = import_pledges(export, out_dir=tmp_path / "out")
    assert result.rejected_rows == [3, 5]
    reasons = dict(zip(zip(result.rejects["row"], result.rejects["column"], strict=True),
                       result.rejects["reason"], strict=True))
    assert "a formula with no saved value" in reasons[(3, "usd_value")]
    assert "save it again, or paste the values" in reasons[(3, "usd_value")]
    assert (5, "description") in reasons
    assert "row 3: usd_value: a formula with no saved value" in result.report()
    assert len(result.valid) == 2
    with pytest.raises(DataError, match=r"row 3: usd_value: a formula with no saved value"):
        import_pledges(export, out_dir=tmp_path / "strict", strict=True)


def test_xlsx_with_calculated_formulas_imports_their_values(tmp_path):
    """A workbook saved by a spreadsheet program keeps each formula's result: no problem."""
    from openpyxl import load_workbook

    from p2c_research.sources.pledges import unsaved_formulas

    export = tmp_path / "export.xlsx"
    _export_frame().to_excel(export, index=False)
    assert unsaved_formulas(export) == {}
    book = load_workbook(export)
    assert all(not str(c.value).startswith("=") for row in book.active.iter_rows() for c in row)


def test_a_panel_without_a_sidecar_is_described_plainly(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    shutil.copytree(PROJECT_ROOT / "data" / "sample", root / "data" / "sample")
    (root / "data" / "sample" / "panel.parquet.provenance.json").unlink()
    monkeypatch.setenv("P2C_ROOT", str(root))
    from p2c_research.datasets import select_data

    text = select_data("sample").describe()
    assert text.startswith("Data: the embedded sample shipped with p2c-research (sample/panel."
                           "parquet, which has no provenance sidecar, so its source, licence and "
                           "date are not recorded")
    assert "unknown source" not in text and "; built )" not in text


def test_a_local_pledge_import_reports_imported_not_downloaded(tmp_path, monkeypatch):
    from p2c_research.sources import fetch

    export = tmp_path / "export.csv"
    _export_frame().to_csv(export, index=False)
    monkeypatch.setattr(fetch, "processed_dir", lambda: tmp_path / "processed")
    report = fetch.fetch_source("pledges", path=str(export))
    first = report.summary().splitlines()[0]
    assert first.startswith("pledges: 2 file(s) (2 imported, 0 from the cache)"), first
    assert "downloaded" not in report.summary()
