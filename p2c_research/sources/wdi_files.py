"""Readers for World Bank WDI files: the long per-indicator CSVs and the bulk wide CSVs.

Both layouts come in several flavours in the wild (with or without the
4-line preamble, with a UTF-8 BOM, with CRLF), so the header row is detected,
not assumed. The readers return raw rows ``iso3, code, year, value``;
aggregates (regions, income groups) are dropped using the country reference,
and every code that is neither an economy nor a known aggregate is logged.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from p2c_research import countries
from p2c_research.errors import DataError

log = logging.getLogger(__name__)

RAW_COLUMNS = ["iso3", "code", "year", "value"]
LONG_HEADER = ["Country Name", "Country Code", "Year", "Value"]
WIDE_KEY = ["Country Name", "Country Code", "Indicator Name", "Indicator Code"]


@dataclass
class WdiRead:
    """Rows read from WDI files, with what was dropped and why."""

    rows: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    aggregates: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def sniff_layout(path: Path) -> tuple[str, int] | None:
    """Return (``"long"`` or ``"wide"``, header line index), or None if not a WDI file."""
    text = _read_text(path)
    for k, line in enumerate(text.splitlines()[:10]):
        cells = next(csv.reader([line]), [])
        cells = [c.strip() for c in cells]
        if cells[:4] == LONG_HEADER:
            return "long", k
        if cells[:4] == WIDE_KEY:
            return "wide", k
    return None


def _economies_only(frame: pd.DataFrame, origin: Path, read: WdiRead) -> pd.DataFrame:
    codes = frame["iso3"].astype(str).str.strip().str.upper()
    is_econ = codes.map(countries.is_economy).astype(bool)
    is_agg = codes.map(countries.is_aggregate).astype(bool) & ~is_econ
    read.aggregates.update(codes[is_agg].unique())
    unmatched = set(codes[~is_econ & ~is_agg].unique())
    if unmatched:
        log.warning("%s: %d code(s) are neither economies nor known aggregates, dropped: %s",
                    origin, len(unmatched), ", ".join(sorted(unmatched)))
        read.unmatched.update(unmatched)
    out = frame.loc[is_econ].copy()
    out["iso3"] = codes[is_econ]
    return out


def read_wdi_long(path: Path, code: str | None = None, read: WdiRead | None = None) -> pd.DataFrame:
    """Read one long file (``Country Name,Country Code,Year,Value``).

    The indicator code is taken from ``code``, else from the file name
    (``IT.CEL.SETS.P2.csv`` or ``it.cel.sets.p2/data.csv``).
    """
    path = Path(path)
    read = read or WdiRead(rows=pd.DataFrame())
    layout = sniff_layout(path)
    if layout is None or layout[0] != "long":
        raise DataError(f"{path}: not a WDI long file (expected header {','.join(LONG_HEADER)})")
    if code is None:
        code = (path.parent.name if path.stem.lower() == "data" else path.stem).upper()
    frame = pd.read_csv(io.StringIO(_read_text(path)), skiprows=layout[1])
    frame = frame.rename(columns={"Country Code": "iso3", "Year": "year", "Value": "value"})
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["year"] = pd.to_numeric(frame["year"], errors="coerce")
    frame = frame.dropna(subset=["value", "year", "iso3"])
    frame = _economies_only(frame, path, read)
    frame["code"] = code
    frame["year"] = frame["year"].astype("int64")
    return frame[RAW_COLUMNS].reset_index(drop=True)


def read_wdi_wide(path: Path, read: WdiRead | None = None) -> pd.DataFrame:
    """Read a bulk ``API_<code>_DS2_*.csv`` file (one column per year), with or without preamble."""
    path = Path(path)
    read = read or WdiRead(rows=pd.DataFrame())
    layout = sniff_layout(path)
    if layout is None or layout[0] != "wide":
        raise DataError(f"{path}: not a WDI bulk file (expected header {','.join(WIDE_KEY)},1960,...)")
    frame = pd.read_csv(io.StringIO(_read_text(path)), skiprows=layout[1], dtype=str)
    year_cols = [c for c in frame.columns if str(c).strip().isdigit()]
    long = frame.melt(
        id_vars=["Country Code", "Indicator Code"], value_vars=year_cols,
        var_name="year", value_name="value",
    )
    long = long.rename(columns={"Country Code": "iso3", "Indicator Code": "code"})
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long["year"] = long["year"].astype("int64")
    long = long.dropna(subset=["value", "iso3"])
    long = _economies_only(long, path, read)
    long["code"] = long["code"].astype(str).str.strip()
    return long[RAW_COLUMNS].reset_index(drop=True)


def read_wdi_path(path: Path | str, codes: list[str] | None = None) -> WdiRead:
    """Read every WDI file under ``path`` (a file or a folder, searched recursively).

    Files that are not WDI layouts (metadata, datapackage.json, other CSVs)
    are skipped. With ``codes``, only those indicator codes are kept. Where a
    code appears in several files, the later vintage is not guessed: rows are
    de-duplicated keeping the first file in sorted path order.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; pass --path to a WDI CSV or a folder of them")
    files = [path] if path.is_file() else sorted(path.rglob("*.csv"))
    read = WdiRead(rows=pd.DataFrame(columns=RAW_COLUMNS))
    frames = []
    for f in files:
        if f.name.startswith("Metadata_"):
            continue
        layout = sniff_layout(f)
        if layout is None:
            continue
        part = read_wdi_wide(f, read) if layout[0] == "wide" else read_wdi_long(f, read=read)
        if codes is not None:
            part = part[part["code"].isin(codes)]
        if not part.empty:
            frames.append(part)
            read.files.append(f)
    if frames:
        rows = pd.concat(frames, ignore_index=True)
        read.rows = rows.drop_duplicates(["iso3", "code", "year"], keep="first").reset_index(drop=True)
    return read
