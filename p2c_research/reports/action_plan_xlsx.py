"""The action plan as a workbook for the country team (``tables/action_plan.xlsx``).

Every text cell is written as text, never as a formula (pledge text is
untrusted), and the same tables give the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from p2c_research.analyses import action_plan as ap
from p2c_research.analyses import gaps as gp
from p2c_research.analyses.classification import SPLIT_RULE
from p2c_research.report_io import country_output_dir
from p2c_research.reports.pledge_tables import ILLUSTRATIVE
from p2c_research.store import atomic_path

if TYPE_CHECKING:
    from p2c_research.reports.pledge_report import PledgeGapReport


def save_action_plan_xlsx(report: PledgeGapReport, out_dir: Path | str) -> Path:
    """Write ``OUT/<ISO3>/tables/action_plan.xlsx``: the plan, its indicators and the rules.

    Every text cell is written as text, never as a formula: pledge names and
    descriptions are untrusted, and a cell starting with "=" must not run.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheets = [("action plan", report.tables.action_plan),
              ("indicators", report.tables.action_plan_indicators)]
    notes = [(ILLUSTRATIVE + ": built on synthetic pledges, not real commitments.",)
             if report.synthetic else ("Pledges: imported P2C export.",),
             (f"Country: {report.name} ({report.iso3}); peers: {report.peer_label}.",),
             *[(f"{r.label} -> {r.step}",) for r in ap.STEP_RULES],
             (SPLIT_RULE,), (gp.SUPPORT_FLOOR_RULE,)]
    sheet = book.active
    for k, (title, frame) in enumerate(sheets):
        ws = sheet if k == 0 else book.create_sheet()
        ws.title = title
        values = frame.astype(object).where(frame.notna(), None).values.tolist()
        _write_rows(ws, [list(frame.columns), *values])
    _write_rows(book.create_sheet("notes"), [list(n) for n in notes])
    # The same tables give the same bytes: the book's dates are the status date and
    # the zip members carry a fixed time (openpyxl stamps both with "now").
    stamp = datetime.combine(report.as_of, datetime.min.time())
    book.properties.created = stamp
    raw = io.BytesIO()
    book.save(raw)
    path = country_output_dir(out_dir, report.iso3) / "tables" / "action_plan.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, zipfile.ZipFile(raw) as source, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" on save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*",
                              rb"\g<1>" + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), data)
            target.writestr(fixed, data)
    return path


def _write_rows(ws: Any, rows: list[list[Any]]) -> None:
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is pd.NA:
                value = None
            cell = ws.cell(row=r, column=c)
            if isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # text, never a formula
            elif hasattr(value, "item"):
                cell.value = value.item()
            else:
                cell.value = value
