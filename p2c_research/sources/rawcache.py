"""The raw cache: responses as downloaded under ``data/raw/<source>/``, each with a provenance sidecar.

Raw files are never edited: an adapter writes the bytes it received and a
``<file>.provenance.json`` beside them (URL, parameters, retrieval time,
sha256, licence). A later fetch within the time-to-live reads the cache
instead of the network, and ``refresh`` forces a new download. Files are
written to a temporary name and renamed, and the sidecar is written last, so
an interrupted fetch leaves either nothing or a file without a sidecar, which
is treated as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from p2c_research.config import raw_dir
from p2c_research.errors import DataError
from p2c_research.store import (
    Provenance,
    atomic_write_bytes,
    provenance_path,
    read_provenance,
    sha256_file,
    write_provenance,
)


@dataclass
class RawCache:
    """The raw folder of one source (``<root>/<source>/``)."""

    source: str
    root: Path | None = None

    @property
    def folder(self) -> Path:
        return Path(self.root or raw_dir()) / self.source

    def path(self, *parts: str) -> Path:
        """A path inside the source folder (parts are file-name safe already)."""
        return self.folder.joinpath(*parts)

    def is_fresh(
        self,
        path: Path,
        ttl_hours: float,
        parameters: Mapping[str, Any] | None = None,
    ) -> bool:
        """True if ``path`` is complete, intact, younger than ``ttl_hours`` and fetched
        with the same ``parameters`` (compared key by key on those given)."""
        if not path.exists() or not provenance_path(path).exists():
            return False
        try:
            prov = read_provenance(path)
        except DataError:  # a damaged sidecar: the file counts as absent and is fetched again
            return False
        if prov.get("sha256") != sha256_file(path):
            return False
        if parameters:
            stored = prov.get("parameters", {})
            if any(stored.get(k) != v for k, v in parameters.items()):
                return False
        try:
            retrieved = datetime.fromisoformat(prov["retrieved_at"])
        except (KeyError, ValueError):
            return False
        if retrieved.tzinfo is None:
            retrieved = retrieved.replace(tzinfo=UTC)
        return datetime.now(UTC) - retrieved < timedelta(hours=ttl_hours)

    def write(self, path: Path, content: bytes, prov: Provenance) -> Path:
        """Write ``content`` atomically, then its sidecar (sha256 filled in)."""
        atomic_write_bytes(path, content)
        write_provenance(path, prov)
        return path

    def files(self, pattern: str = "*") -> list[Path]:
        """Cached data files matching ``pattern`` (recursive), sidecars and temp files excluded."""
        if not self.folder.exists():
            return []
        return sorted(
            p for p in self.folder.rglob(pattern)
            if p.is_file()
            and not p.name.endswith(".provenance.json")
            and not p.name.startswith(".")
            and provenance_path(p).exists()
        )


def retrieved_at(path: Path) -> str:
    """The retrieval time recorded in a file's sidecar ("" if none)."""
    return str(read_provenance(path).get("retrieved_at", ""))


def same_copy(dest: Path, original: Path) -> bool:
    """True if ``dest`` is a complete cached copy (sidecar present) of ``original``'s bytes."""
    try:
        recorded = read_provenance(dest).get("sha256") if dest.exists() else None
    except DataError:
        return False
    return (recorded is not None and provenance_path(dest).exists()
            and recorded == sha256_file(original) and sha256_file(dest) == sha256_file(original))
