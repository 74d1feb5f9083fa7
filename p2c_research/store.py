"""The data store: one tidy panel schema, atomic writes and provenance sidecars.

Every indicator table in the workbench has the columns
``iso3, indicator, year, value, source``. Files are written to a temporary
name and renamed into place, so an interrupted write never leaves a
half-written file, and each parquet file carries a ``.provenance.json``
sidecar that says where its numbers came from.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from p2c_research.errors import DataError, WriteError

PANEL_COLUMNS: list[str] = ["iso3", "indicator", "year", "value", "source"]

PANEL_SCHEMA = pa.DataFrameSchema(
    {
        "iso3": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "indicator": pa.Column(str, pa.Check.str_matches(r"^[a-z][a-z0-9_]*$")),
        "year": pa.Column(int, pa.Check.in_range(1960, 2100)),
        "value": pa.Column(float, [pa.Check(lambda s: pd.Series(pd.notna(s) & (s.abs() < 1e15)),
                                            error="finite value")]),
        "source": pa.Column(str, pa.Check.str_length(min_value=1)),
    },
    unique=["iso3", "indicator", "year"],
    strict=True,
    coerce=True,
    ordered=False,
)


def validate_panel(panel: pd.DataFrame, origin: str = "panel") -> pd.DataFrame:
    """Validate a tidy panel; the error lists the failing rows and checks.

    Returns the panel with canonical dtypes and column order.
    """
    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise DataError(
            f"{origin}: missing column(s) {missing}; a panel needs exactly {PANEL_COLUMNS}"
        )
    try:
        out = PANEL_SCHEMA.validate(panel[PANEL_COLUMNS], lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.head(10)
        lines = [
            f"  row {r.index}: column {r.column}: {r.check} (value {r.failure_case!r})"
            for r in cases.itertuples()
        ]
        raise DataError(
            f"{origin}: {len(exc.failure_cases)} panel check(s) failed:\n" + "\n".join(lines)
        ) from exc
    # Python-backed strings: the analyses touch these columns in many small pieces,
    # where pyarrow's per-call overhead costs more than the work (runner/worker_setup.py).
    text = pd.StringDtype("python")
    out = out.astype({"iso3": text, "indicator": text, "source": text})
    out["year"] = out["year"].astype("int64")
    out["value"] = out["value"].astype("float64")
    return out.reset_index(drop=True)


def empty_panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "iso3": pd.Series(dtype="string"),
            "indicator": pd.Series(dtype="string"),
            "year": pd.Series(dtype="int64"),
            "value": pd.Series(dtype="float64"),
            "source": pd.Series(dtype="string"),
        }
    )


# --------------------------------------------------------------------------- atomic writes
#: What to tell the user when the system refuses a write, by ``errno``.
_WRITE_FIXES = {
    errno.ENOSPC: "the disk is full; free some space and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EROFS: "the file system is read-only; choose another folder (e.g. --out DIR)",
    errno.EACCES: "permission denied; choose a folder you can write to (e.g. --out DIR)",
    errno.EPERM: "permission denied; choose a folder you can write to (e.g. --out DIR)",
}


def write_error(path: Path | str, exc: OSError) -> WriteError:
    """A :class:`WriteError` naming ``path``, what went wrong and the fix."""
    fix = _WRITE_FIXES.get(exc.errno or 0, "check the folder and free disk space, then run again")
    reason = exc.strerror or type(exc).__name__
    error = WriteError(f"{path}: cannot write it ({reason}); {fix}")
    error.errno = exc.errno
    return error


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success.

    On any exception (or KeyboardInterrupt) the temporary file is removed and
    the previous version of ``path``, if any, is untouched. A write the system
    refuses (disk full, read-only, no permission) raises :class:`WriteError`,
    which names the file and the fix.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, WriteError) \
                and exc.errno in _WRITE_FIXES:
            raise write_error(path, exc) from exc
        raise


def atomic_write_text(path: Path | str, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_with(path: Path | str, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and move the result into place atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


# --------------------------------------------------------------------------- CSV files
#: First characters that make a spreadsheet read a cell as a formula (OWASP,
#: "CSV Injection"): ``= + - @``, tab and carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell a spreadsheet would run as a formula made inert.

    The OWASP rule: a text cell (or column header) starting with ``= + - @``,
    tab or carriage return gets a leading ``'``, which spreadsheets show as
    text. Numbers, booleans and dates are left alone, so ``-3.5`` stays a
    number. Country teams open these files in Excel; text in them comes from
    params, pledge exports and publishers. Returns ``frame`` itself when
    nothing needs changing.
    """
    changed: dict[int, pd.Series] = {}
    for k in range(frame.shape[1]):
        column = frame.iloc[:, k]
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
                or isinstance(column.dtype, pd.CategoricalDtype)):
            continue
        values = column.astype(object).tolist()
        inert = [_inert(v) for v in values]
        if any(a is not b for a, b in zip(inert, values, strict=True)):
            changed[k] = pd.Series(inert, index=frame.index, dtype=object)
    headers = [_inert(c) for c in frame.columns]
    if not changed and headers == list(frame.columns):
        return frame
    out = frame.copy()
    for k, inert in changed.items():
        out.isetitem(k, inert)
    out.columns = headers
    return out


def write_csv(frame: pd.DataFrame, path: Path | str, **to_csv: Any) -> Path:
    """Write ``frame`` as CSV atomically, formulas neutralised (:func:`neutralise_formulas`).

    Every CSV the workbench writes goes through here; ``to_csv`` are pandas'
    options (``index=False`` unless given). Lines end in CRLF, as RFC 4180
    and spreadsheets have them: Python's CSV writer quotes a cell holding a
    line-end character only if it is in the line terminator, so with a bare
    LF a carriage return inside a cell went out unquoted, and a spreadsheet
    read the text after it as a new row, a formula included.
    """
    to_csv.setdefault("index", False)
    to_csv.setdefault("lineterminator", "\r\n")
    safe = neutralise_formulas(frame)
    return atomic_write_with(path, lambda tmp: safe.to_csv(tmp, **to_csv))


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- provenance
@dataclass
class Provenance:
    """Where a file's numbers came from (owid/etl-style origin record)."""

    source: str
    url_or_file: str
    licence: str
    retrieved_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    sha256: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    inputs: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def provenance_path(path: Path | str) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".provenance.json")


def write_provenance(path: Path | str, prov: Provenance) -> Path:
    """Write the sidecar of ``path``, filling in its sha256."""
    prov.sha256 = sha256_file(path)
    return atomic_write_text(provenance_path(path), prov.to_json() + "\n")


def read_provenance(path: Path | str) -> dict[str, Any]:
    """The sidecar of ``path`` as a dict; ``{}`` when there is none.

    Raises:
        DataError: the sidecar exists but is not a JSON object (damaged or edited).
    """
    side = provenance_path(path)
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise DataError(f"{side}: not a readable provenance sidecar ({exc}); delete it and "
                        "rebuild or fetch the file beside it again") from exc
    if not isinstance(data, dict):
        raise DataError(f"{side}: a provenance sidecar must be a JSON object, not "
                        f"{type(data).__name__}; delete it and rebuild or fetch the file "
                        "beside it again")
    return data


def write_parquet(df: pd.DataFrame, path: Path | str, prov: Provenance | None = None) -> Path:
    """Write ``df`` as parquet atomically, with its provenance sidecar."""
    path = Path(path)
    atomic_write_with(path, lambda tmp: df.to_parquet(tmp, index=False))
    if prov is not None:
        write_provenance(path, prov)
    return path


def write_panel(panel: pd.DataFrame, path: Path | str, prov: Provenance) -> Path:
    """Validate and write a tidy panel with its provenance."""
    panel = validate_panel(panel, origin=str(path))
    panel = panel.sort_values(["iso3", "indicator", "year"]).reset_index(drop=True)
    return write_parquet(panel, path, prov)


def read_parquet(path: Path | str, fix: str = "rebuild it") -> pd.DataFrame:
    """Read a parquet file; a missing, truncated or corrupt file is a :class:`DataError`.

    pyarrow's own errors ("Parquet magic bytes not found") do not say which
    file or what to do; this names both.
    """
    import pyarrow

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (or not a file); {fix}")
    try:
        return pd.read_parquet(path)
    except (pyarrow.ArrowException, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"{path}: not a readable parquet file, truncated or corrupt "
                        f"({reason}); {fix}") from exc


def read_panel(path: Path | str) -> pd.DataFrame:
    """Read and validate a tidy panel file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: panel file not found; build it with `invoke data.sample` "
                        "or `invoke data.build`")
    frame = read_parquet(path, "rebuild it with `invoke data.sample` or `invoke data.build`")
    return validate_panel(frame, origin=str(path))
