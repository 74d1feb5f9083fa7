"""Import a real P2C pledge export (CSV or XLSX) into the pledge schema.

ITU has not published a pledge-level export format, so the importer reads our
schema's column names (``docs/pledges.md``) and, for any other layout, a small
column-mapping YAML::

    columns:              # our_name: their column header
      pledge_id: "Pledge ID"
      entity: "Organization"
    values:               # optional: per column, their value -> ours
      stakeholder_group: {"Private Sector": private_sector}
    defaults:             # optional: used where a column is absent or a cell empty
      currency: USD
    sheet: "Pledges"      # optional, XLSX only (name or 0-based index)

Validation is lazy and row by row (``load -> process -> sanity_check -> save``):
each bad row is reported with its row number as the file shows it (header =
row 1, first data row = 2), the column and the reason; good rows are kept and
written to ``pledges.parquet``; bad ones go to ``pledges.rejects.csv`` beside
it. With ``strict=True`` any bad row raises :class:`DataError` and nothing is
written. Problems with the file itself (missing, unreadable, required columns
absent) always raise, naming the file and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from p2c_research.config import processed_dir
from p2c_research.errors import DataError
from p2c_research.pledges.schema import (
    PLEDGE_COLUMNS,
    REQUIRED_COLUMNS,
    TARGET_COLUMNS,
    format_problems,
    join_tokens,
    split_valid,
)
from p2c_research.store import Provenance, sha256_file, write_csv, write_parquet
from p2c_research.yamlio import parse_yaml

SOURCE_NAME = "p2c_pledge_export"
OUTPUT_NAME = "pledges.parquet"
REJECTS_NAME = "pledges.rejects.csv"
SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xlsm")
LIST_COLUMNS = ("target_countries", "target_regions", "sdgs", "beneficiaries")
REJECT_COLUMNS = ["row", "column", "reason", "value"]
_MAPPING_HINT = "see docs/pledges.md, 'Other layouts: the column-mapping YAML'"


class ColumnMapping(BaseModel):
    """A column-mapping YAML: how another export's layout maps onto our schema."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    defaults: dict[str, str | int | float] = Field(default_factory=dict)
    sheet: str | int | None = None

    @field_validator("columns", "values", "defaults")
    @classmethod
    def _known_columns(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in value if k not in PLEDGE_COLUMNS]
        if unknown:
            raise ValueError(f"unknown pledge column(s) {unknown}; ours are {PLEDGE_COLUMNS}")
        return value

    @field_validator("values")
    @classmethod
    def _string_values(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
        return {col: {str(k): str(v) for k, v in table.items()} for col, table in value.items()}


def load_mapping(path: Path | str) -> ColumnMapping:
    """Read and validate a column-mapping YAML; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: column-mapping file not found; {_MAPPING_HINT}")
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return ColumnMapping.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise DataError(f"{path}: invalid column mapping ({_MAPPING_HINT}):\n"
                        + "\n".join(lines)) from exc


@dataclass
class PledgeImport:
    """The outcome of one import: valid rows, rejects and where they were written.

    ``rejects`` has one row per problem: ``row`` (as the file numbers it,
    header = 1), ``column`` (ours), ``reason``, ``value``, then the row's
    original fields as they were in the file.
    """

    source: Path
    valid: pd.DataFrame
    rejects: pd.DataFrame
    n_rows: int
    output: Path | None = None
    rejects_path: Path | None = None
    mapping: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> list[int]:
        """File row numbers with at least one problem, ascending."""
        return sorted({int(r) for r in self.rejects["row"]})

    def report(self) -> str:
        """A plain-text account for the terminal: counts, files, then every problem."""
        lines = [
            f"Pledge import from {self.source}"
            + (f" (mapping {self.mapping})" if self.mapping else ""),
            f"  data rows read: {self.n_rows}; valid: {len(self.valid)}; "
            f"rejected: {len(self.rejected_rows)} row(s), {len(self.rejects)} problem(s)",
        ]
        if self.output:
            lines.append(f"  written: {self.output}")
        if self.rejects_path:
            lines.append(f"  rejects: {self.rejects_path}")
        lines += [f"  note: {note}" for note in self.notes]
        if len(self.rejects):
            lines.append("Problems (row numbers as in the file, header = row 1):")
            lines.append(format_problems(self.rejects, row_column="row"))
        return "\n".join(lines)


# --------------------------------------------------------------------------- load
def _header_key(name: object) -> str:
    return re.sub(r"[\s\-/]+", "_", str(name).strip().lower())


def read_pledge_file(path: Path | str, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a CSV or XLSX export as strings, indexed by the file's row number.

    The header is row 1, so the first data row is row 2; fully blank rows are
    dropped but keep their numbers out of the count, so numbers match what a
    spreadsheet shows. (In a CSV with line breaks inside quoted cells, the
    number is the record's, as a spreadsheet would show it.)

    Raises:
        DataError: the file is missing, of an unsupported type, unreadable or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pledge export not found; check the path "
                        f"(a CSV or XLSX export with one pledge per row)")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix!r}; save the export as "
                        f"{' or '.join(SUPPORTED_SUFFIXES)}")
    try:
        if suffix == ".csv":
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False,
                                    skip_blank_lines=False, encoding="utf-8-sig")
            except UnicodeDecodeError:
                # Spreadsheet programs on Windows save "CSV" as cp1252.
                frame = pd.read_csv(path, dtype=str, keep_default_na=False,
                                    skip_blank_lines=False, encoding="cp1252")
        else:
            frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=str,
                                  keep_default_na=False, engine="openpyxl")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError,
            KeyError) as exc:
        raise DataError(f"{path}: cannot read it as {suffix[1:].upper()}: {exc}. Save it as "
                        "UTF-8 CSV or XLSX with one header row and one pledge per row") from exc
    except Exception as exc:  # openpyxl raises its own errors for corrupt workbooks
        raise DataError(f"{path}: cannot read it as {suffix[1:].upper()}: "
                        f"{type(exc).__name__}: {exc}") from exc
    frame = frame.fillna("").astype(str)
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    blank = frame.apply(lambda r: all(not v.strip() for v in r), axis=1) if len(frame) else []
    frame = frame.loc[~pd.Series(blank, index=frame.index, dtype=bool)]
    if frame.empty:
        raise DataError(f"{path}: no data rows below the header; is this the right file or sheet?")
    keys = [_header_key(c) for c in frame.columns]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise DataError(f"{path}: repeated column header(s) {dupes}; each column needs a "
                        "distinct header")
    return frame


def unsaved_formulas(path: Path | str, sheet: str | int | None = None
                     ) -> dict[tuple[int, int], str]:
    """Formula cells of an XLSX sheet that carry no saved value: ``{(file row, column position): formula}``.

    A workbook written by a program that does not calculate (a script, some
    exporters) stores formulas without their results; read for values, such a
    cell is empty, and its pledge would silently lose the number. Rows are
    numbered as the file shows them (header = row 1).
    """
    from openpyxl import load_workbook

    found: dict[tuple[int, int], str] = {}
    books = [load_workbook(path, read_only=True, data_only=flag) for flag in (False, True)]
    try:
        sheets = []
        for book in books:
            if sheet is None:
                sheets.append(book.worksheets[0])
            elif isinstance(sheet, int):
                sheets.append(book.worksheets[sheet])
            else:
                sheets.append(book[sheet])
        rows = zip(sheets[0].iter_rows(values_only=True), sheets[1].iter_rows(values_only=True),
                   strict=False)
        for number, (formulas, values) in enumerate(rows, start=1):
            for position, cell in enumerate(formulas):
                text = str(getattr(cell, "text", cell) or "")
                value = values[position] if position < len(values) else None
                if text.startswith("=") and value is None:
                    found[(number, position)] = text
    finally:
        for book in books:
            book.close()
    return found


def _formula_problems(formulas: dict[tuple[int, int], str], raw: pd.DataFrame,
                      mapping: ColumnMapping | None) -> pd.DataFrame:
    """One problem per unsaved formula in a column the import uses (``split_valid``'s shape)."""
    mapping = mapping or ColumnMapping()
    by_key = {_header_key(c): c for c in raw.columns}
    ours_of: dict[str, str] = {}
    for ours, theirs in mapping.columns.items():
        column = theirs if theirs in raw.columns else by_key.get(_header_key(theirs))
        if column is not None:
            ours_of.setdefault(column, ours)
    for ours in PLEDGE_COLUMNS:
        if ours in by_key:
            ours_of.setdefault(by_key[ours], ours)
    records = []
    for (row, position), formula in sorted(formulas.items()):
        header = raw.columns[position] if position < len(raw.columns) else None
        if row not in raw.index or header not in ours_of:
            continue
        records.append({"index": row, "column": ours_of[header], "value": formula,
                        "reason": "a formula with no saved value (the file was written by a "
                                  "program that does not calculate formulas); open it in Excel "
                                  "or LibreOffice and save it again, or paste the values"})
    return pd.DataFrame(records, columns=["index", "column", "reason", "value"])


# --------------------------------------------------------------------------- process
def apply_mapping(raw: pd.DataFrame, mapping: ColumnMapping | None, origin: str,
                  mapping_path: Path | None = None) -> pd.DataFrame:
    """Rename, translate and default columns into our names; keeps the index.

    Without a mapping, headers are matched to our names case-insensitively with
    spaces read as underscores ("Pledge ID" -> ``pledge_id``).

    Raises:
        DataError: a column named in the mapping is not in the file, or a
            required column is missing; the message lists the file's columns.
    """
    mapping = mapping or ColumnMapping()
    by_key = {_header_key(c): c for c in raw.columns}
    found = list(raw.columns)
    where = f"mapping {mapping_path}" if mapping_path else "the mapping"
    out = pd.DataFrame(index=raw.index)
    for ours, theirs in mapping.columns.items():
        column = theirs if theirs in raw.columns else by_key.get(_header_key(theirs))
        if column is None:
            raise DataError(f"{origin}: column {theirs!r} (for {ours}, from {where}) is not in "
                            f"the file; its columns are {found}. Fix the header or the mapping")
        out[ours] = raw[column]
    for ours in PLEDGE_COLUMNS:
        if ours not in out.columns and ours in by_key:
            out[ours] = raw[by_key[ours]]
    for ours, table in mapping.values.items():
        if ours not in out.columns:
            continue
        folded = {k.strip().casefold(): v for k, v in table.items()}

        def translate(value: str, table=table, folded=folded) -> str:
            text = value.strip()
            return table.get(text, folded.get(text.casefold(), text))

        if ours in LIST_COLUMNS:
            out[ours] = out[ours].map(
                lambda cell, tr=translate: join_tokens(tr(t) for t in re.split(r"[;,|]", cell)))
        else:
            out[ours] = out[ours].map(translate)
    for ours, default in mapping.defaults.items():
        if ours not in out.columns:
            out[ours] = str(default)
        else:
            out[ours] = out[ours].where(out[ours].str.strip() != "", str(default))

    missing = [c for c in REQUIRED_COLUMNS if c not in out.columns]
    if not any(c in out.columns for c in TARGET_COLUMNS):
        missing.append(" or ".join(TARGET_COLUMNS))
    if missing:
        raise DataError(
            f"{origin}: missing required column(s) {missing}; the file has {found}. Rename the "
            f"headers to our names or pass a column-mapping YAML (mapping=..., --mapping FILE) "
            f"that maps them; {_MAPPING_HINT}"
        )
    return out


def harmonise_country_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Turn country names, ISO2 or M49 codes in ``target_countries``/``pledger_iso3`` into ISO3.

    Exports often list countries by name. Tokens that are already ISO3
    economies are kept; others are matched with the country reference
    (:func:`p2c_research.countries.harmonise`); a token that matches nothing
    is left as it is, so validation rejects the row and says why (never a
    silent drop).

    Returns the frame and one note per column on what was converted.
    """
    from p2c_research import countries

    frame = frame.copy()
    notes: list[str] = []
    for column in ("target_countries", "pledger_iso3"):
        if column not in frame.columns:
            continue
        cells = frame[column].astype(str)
        tokens = {t.strip() for cell in cells for t in re.split(r"[;,|]", cell) if t.strip()}
        outcome = countries.harmonise(
            t for t in tokens if not (len(t) == 3 and countries.is_economy(t)))
        if not outcome.mapping:
            continue

        def convert(cell: str, mapping=outcome.mapping) -> str:
            parts = [t.strip() for t in re.split(r"[;,|]", cell) if t.strip()]
            return join_tokens(mapping.get(t, t) for t in parts)

        frame[column] = cells.map(convert)
        pairs = sorted(outcome.mapping.items())
        shown = ", ".join(f"{k!r}->{v}" for k, v in pairs[:10])
        more = "" if len(pairs) <= 10 else f" and {len(pairs) - 10} more"
        notes.append(f"{column}: matched {len(pairs)} country name(s)/code(s) to ISO3 "
                     f"({shown}{more})")
    return frame, notes


def _rejects_frame(problems: pd.DataFrame, frame: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """One row per problem, the cell as the file gave it, then the row's original fields."""
    rejects = problems.rename(columns={"index": "row"})[REJECT_COLUMNS].copy()
    rejects["row"] = rejects["row"].astype(int)
    rejects["value"] = [
        str(frame.at[row, column]) if column in frame.columns else value
        for row, column, value in zip(rejects["row"], rejects["column"], rejects["value"],
                                      strict=True)
    ]
    original = raw.loc[rejects["row"]].reset_index(drop=True)
    original.columns = [f"{c} (file)" if c in REJECT_COLUMNS else c for c in original.columns]
    rejects = pd.concat([rejects.reset_index(drop=True), original], axis=1)
    return rejects


# --------------------------------------------------------------------------- the import
def import_pledges(
    path: Path | str,
    *,
    mapping: Path | None = None,
    strict: bool = False,
    out_dir: Path | None = None,
) -> PledgeImport:
    """Import a real P2C pledge export into ``out_dir/pledges.parquet``.

    Args:
        path: the export, ``.csv`` (UTF-8, or cp1252 as Excel saves it) or ``.xlsx``.
        mapping: a column-mapping YAML for a layout with other headers or values.
        strict: raise on any bad row instead of keeping the good ones; then
            nothing is written.
        out_dir: where to write (default ``data/processed``, see
            :func:`p2c_research.config.processed_dir`).

    Returns:
        The :class:`PledgeImport`; ``report()`` lists every rejected row.

    Raises:
        DataError: the file or mapping cannot be used (the message names the
            file and the fix); with ``strict``, any bad row (all are listed);
            or not a single row is valid (the rejects file says why).
    """
    path = Path(path)
    origin = str(path)
    column_mapping = load_mapping(mapping) if mapping is not None else None
    sheet = column_mapping.sheet if column_mapping else None
    raw = read_pledge_file(path, sheet=sheet)
    formulas = unsaved_formulas(path, sheet) if path.suffix.lower() != ".csv" else {}
    for (row, position), formula in formulas.items():
        if row in raw.index and position < raw.shape[1]:
            raw.iat[raw.index.get_loc(row), position] = formula  # shown as such in the rejects
    frame = apply_mapping(raw, column_mapping, origin, mapping_path=mapping)
    frame, notes = harmonise_country_columns(frame)
    valid, problems = split_valid(frame)
    formula_problems = _formula_problems(formulas, raw, column_mapping)
    if not formula_problems.empty:
        problems = pd.concat([formula_problems, problems], ignore_index=True)
        problems = problems.drop_duplicates(["index", "column"], keep="first")
        problems = problems.sort_values("index", kind="stable").reset_index(drop=True)
        valid = valid.loc[~valid.index.isin(set(formula_problems["index"]))]
    rejects = (_rejects_frame(problems, frame, raw) if not problems.empty
               else pd.DataFrame(columns=REJECT_COLUMNS + list(raw.columns)))

    if strict and not rejects.empty:
        n_rows = rejects["row"].nunique()
        raise DataError(
            f"{origin}: {n_rows} bad row(s), {len(rejects)} problem(s) (row numbers as in the "
            f"file, header = row 1); nothing was written:\n"
            + format_problems(rejects, row_column="row")
            + "\nFix the rows, or import without strict to keep the valid ones."
        )

    out_dir = Path(out_dir) if out_dir is not None else processed_dir()
    output = out_dir / OUTPUT_NAME
    rejects_path = out_dir / REJECTS_NAME
    write_csv(rejects, rejects_path)
    if valid.empty:
        raise DataError(f"{origin}: no valid pledge rows (all {len(raw)} rejected); nothing "
                        f"written to {output}. See {rejects_path} for the reasons")
    valid = valid.reset_index(drop=True)
    valid.attrs.update({"synthetic": False, "source": origin})
    inputs = [{"file": str(path), "sha256": sha256_file(path)}]
    if mapping is not None:
        inputs.append({"file": str(mapping), "sha256": sha256_file(mapping)})
    prov = Provenance(
        source=SOURCE_NAME,
        url_or_file=str(path),
        licence="as stated by the data owner",
        parameters={"mapping": str(mapping) if mapping else None, "strict": strict},
        notes=(f"{len(raw)} data rows read, {len(valid)} valid, "
               f"{rejects['row'].nunique() if len(rejects) else 0} rejected "
               f"(listed in {rejects_path.name}). " + " ".join(notes)).strip(),
        inputs=inputs,
    )
    write_parquet(valid, output, prov)
    return PledgeImport(source=path, valid=valid, rejects=rejects, n_rows=len(raw),
                        output=output, rejects_path=rejects_path, mapping=mapping, notes=notes)
