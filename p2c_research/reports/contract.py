"""The one contract every report module keeps: ``build(ctx) -> Report``, ``save(report, out)``.

A report module (:mod:`~p2c_research.reports.landscape_report`,
:mod:`~p2c_research.reports.benchmark_report`,
:mod:`~p2c_research.reports.pledge_report`) exposes exactly these two
functions. What ``build`` returns holds three typed members:

- ``tables``: a dataclass of the country's tables (what ``save`` writes as CSV);
- ``figures``: a dataclass of its figures (what ``save`` writes as PNG);
- ``sections``: a dataclass of :class:`Section`, in reading order; a notebook
  cell shows one by naming it (``report.sections.findings``).

So the three notebooks read alike: open the context, ``build``, ``save``,
then one cell per section, each an attribute, none picked by a string key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Section:
    """One part of a report, shown by one notebook cell: text, tables and figures in order.

    A ``str`` part is Markdown; anything else (a styled table, a figure, an
    HTML block) is displayed as IPython displays it.
    """

    title: str
    parts: tuple[Any, ...] = ()

    def displayables(self) -> list[Any]:
        """The parts as IPython shows them (text as Markdown)."""
        from IPython.display import Markdown

        return [Markdown(p) if isinstance(p, str) else p for p in self.parts if p is not None]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(*self.displayables())

    def markdown(self) -> str:
        """The section's text parts (tests and plain-text summaries)."""
        return "\n\n".join(p for p in self.parts if isinstance(p, str))


class Report(Protocol):
    """What ``build`` returns (see the module docstring)."""

    iso3: str
    tables: Any
    figures: Any
    sections: Any


def members(group: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) of a dataclass of tables, figures or sections, in declaration order;
    members that are None (not drawn for this country) are left out."""
    if not is_dataclass(group):
        raise TypeError(f"{type(group).__name__} is not a dataclass of report members")
    for f in fields(group):
        value = getattr(group, f.name)
        if value is not None:
            yield f.name, value


def saved_paths(saved: dict[str, Path]) -> dict[str, Path]:
    """A copy of what ``save`` returned, sorted by file name (for a files section)."""
    return dict(sorted(saved.items()))
