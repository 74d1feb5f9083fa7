"""The data store: one tidy panel schema, atomic writes and provenance sidecars.

Every indicator table in the workbench has the columns
``iso3, indicator, year, value, source``. Files are written to a temporary
name and renamed into place, so an interrupted write never leaves a
half-written file, and each parquet file carries a ``.provenance.json``
sidecar that says where its numbers came from.
"""

from __future__ import annotations

import contextlib
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

from p2c_research.errors import DataError

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
@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success.

    On any exception (or KeyboardInterrupt) the temporary file is removed and
    the previous version of ``path``, if any, is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
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
    side = provenance_path(path)
    if not side.exists():
        return {}
    return json.loads(side.read_text(encoding="utf-8"))


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


def read_panel(path: Path | str) -> pd.DataFrame:
    """Read and validate a tidy panel file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: panel file not found; build it with `invoke data.sample` "
                        "or `invoke data.build`")
    return validate_panel(pd.read_parquet(path), origin=str(path))
