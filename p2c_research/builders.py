"""One skeleton for every builder of committed files: load -> process -> check -> save.

The project builds a handful of files it ships: the embedded sample, the
country reference, the ITU-D region list, the synthetic pledges and the
indicator docs. Each builder is a :class:`Builder` with the same four steps,
so a reader knows where to look for the input, the transformation, the
checks and the write:

- ``load`` reads the inputs and fails with the file and the fix when they are
  missing or malformed;
- ``process`` is pure: it turns what was loaded into what will be written;
- ``check`` refuses a result that must not be written (raise
  :class:`~p2c_research.errors.DataError`) and returns notes for the user;
- ``save`` writes each file atomically (temporary file, then rename), so a
  failed build never leaves half a reference.

``run`` calls them in that order; ``tasks.py`` runs builders and prints
:meth:`Built.summary`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

Loaded = TypeVar("Loaded")
Result = TypeVar("Result")


@dataclass
class Built(Generic[Result]):
    """What a builder wrote: its result, the files by role, and notes for the user."""

    name: str
    result: Result
    paths: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per file written, then the notes."""
        lines = [f"{self.name}: wrote {len(self.paths)} file(s)"]
        lines += [f"  {role}: {path}" for role, path in self.paths.items()]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


class Builder(ABC, Generic[Loaded, Result]):
    """load -> process -> check -> save; subclasses fill in the four steps."""

    name: ClassVar[str]

    @abstractmethod
    def load(self) -> Loaded:
        """Read the inputs (files, API answers) without interpreting them."""

    @abstractmethod
    def process(self, loaded: Loaded) -> Result:
        """Turn the inputs into what will be written; no I/O."""

    def check(self, result: Result) -> list[str]:
        """Raise DataError for a result that must not be written; return notes."""
        return []

    @abstractmethod
    def save(self, result: Result) -> dict[str, Path]:
        """Write every file atomically and return them by role."""

    def run(self) -> Built[Result]:
        """Run the four steps in order; nothing is written unless ``check`` passes."""
        result = self.process(self.load())
        notes = list(self.check(result))
        paths = self.save(result)
        return Built(self.name, result, paths, notes)


def run_all(builders: list[Builder[Any, Any]]) -> list[Built[Any]]:
    """Run builders in order (later ones may read what earlier ones wrote)."""
    return [builder.run() for builder in builders]
