"""CSV files are safe to open in a spreadsheet: text that starts like a formula is made inert.

The OWASP rule (CSV injection): a text cell starting with ``= + - @``, tab or carriage
return gets a leading ``'``; numbers stay numbers. Every CSV the workbench writes goes
through :func:`p2c_research.store.write_csv`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from p2c_research.report_io import save_table
from p2c_research.store import FORMULA_STARTS, neutralise_formulas, write_csv

PACKAGE = Path(__file__).resolve().parents[1] / "p2c_research"
HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def _cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_text_cells_starting_like_a_formula_get_a_quote_numbers_stay_numbers():
    frame = pd.DataFrame({
        "text": HOSTILE,
        "plain": ["Cambodia", "a=b", "x-y", "e@mail", "", None],
        "number": [-3.5, 1.0, np.nan, -0.0, 2.0, -1e9],
        "count": [-1, 2, 3, 4, 5, 6],
        "mixed": [-1.5, "-1.5", "ok", None, 7, "=1"],
        "flag": [True, False, True, False, True, False],
    })
    safe = neutralise_formulas(frame)
    assert safe["text"].tolist() == ["'" + h for h in HOSTILE]
    assert safe["plain"].tolist()[:5] == ["Cambodia", "a=b", "x-y", "e@mail", ""]
    assert safe["plain"].isna().tolist()[5]
    pd.testing.assert_series_equal(safe["number"], frame["number"])
    pd.testing.assert_series_equal(safe["count"], frame["count"])
    pd.testing.assert_series_equal(safe["flag"], frame["flag"])
    assert safe["mixed"].tolist()[:3] == [-1.5, "'-1.5", "ok"] and safe["mixed"][5] == "'=1"
    assert frame["text"].tolist() == HOSTILE  # the caller's frame is not changed


def test_headers_are_text_cells_too_and_an_unchanged_frame_is_returned_as_is():
    frame = pd.DataFrame({"=cmd": ["a"], "ok": [1]})
    assert list(neutralise_formulas(frame).columns) == ["'=cmd", "ok"]
    clean = pd.DataFrame({"a": ["x"], "b": [-1.0]})
    assert neutralise_formulas(clean) is clean


def test_string_and_categorical_columns(tmp_path):
    frame = pd.DataFrame({"s": pd.Series(["=1", "b"], dtype="string"),
                          "c": pd.Categorical(["@x", "y"])})
    path = write_csv(frame, tmp_path / "t.csv")
    assert _cells(path) == [["s", "c"], ["'=1", "'@x"], ["b", "y"]]


def test_a_report_table_is_written_inert(tmp_path):
    frame = pd.DataFrame({"priority": HOSTILE, "score": np.arange(6) - 3.0})
    path = save_table(frame, tmp_path, "KHM", "action_plan")
    rows = _cells(path)
    assert [r[0] for r in rows[1:]] == ["'" + h for h in HOSTILE]
    assert [float(r[1]) for r in rows[1:]] == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row
                   if not _is_number(cell))


def test_pledge_rejects_are_written_inert(tmp_path):
    from p2c_research.pledges.synthetic import generate_pledges
    from p2c_research.sources.pledges import import_pledges

    rows = generate_pledges().head(4).copy()
    for column in ("start_date", "end_date"):
        rows[column] = rows[column].dt.strftime("%Y-%m-%d")
    rows = rows.astype(str).reset_index(drop=True)
    rows.loc[0, ["entity", "usd_value"]] = ["=HYPERLINK(\"http://x\",\"click\")", "-5000"]
    rows.loc[1, ["description", "stakeholder_group"]] = ["@SUM(A1)", "+corporation"]
    export = tmp_path / "export.csv"
    rows.to_csv(export, index=False)
    result = import_pledges(export, out_dir=tmp_path / "processed")
    assert result.rejected_rows == [2, 3]
    cells = _cells(tmp_path / "processed" / "pledges.rejects.csv")
    text = [cell for row in cells for cell in row if cell and not _is_number(cell)]
    assert "'=HYPERLINK(\"http://x\",\"click\")" in text and "'+corporation" in text
    assert "'@SUM(A1)" in text and "'-5000" in text  # the cell as the file gave it, as text
    assert not [cell for cell in text if cell.startswith(FORMULA_STARTS)]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_every_csv_write_of_the_package_goes_through_write_csv():
    """A guard: ``to_csv`` into a file only in the one writer (the countries and regions
    builds format their resource files as text after neutralising; a step's key hashes the
    country reference as CSV text)."""
    allowed = {"store.py", "countries_build.py", "regions_build.py", "steps.py"}
    users = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if re.search(r"\.to_csv\(", p.read_text(encoding="utf-8"))}
    assert users <= allowed, f"write CSV files with p2c_research.store.write_csv: {users - allowed}"


def test_a_carriage_return_inside_a_cell_cannot_start_a_new_row(tmp_path):
    """A bare CR inside a cell, unquoted, is a row break for a spreadsheet: the text after
    it would start a row of its own, a formula included."""
    path = write_csv(pd.DataFrame({"note": ["ok\r=1+1", "fine\n@x"], "n": [1, 2]}),
                     tmp_path / "t.csv")
    assert _cells(path) == [["note", "n"], ["ok\r=1+1", "1"], ["fine\n@x", "2"]]
    assert pd.read_csv(path)["note"].tolist() == ["ok\r=1+1", "fine\n@x"]
