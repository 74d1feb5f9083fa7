"""The one contract every report module keeps: ``build(...) -> Report``, ``save(report, out)``.

A report module (:mod:`~p2c_research.reports.landscape_report`,
:mod:`~p2c_research.reports.benchmark_report`,
:mod:`~p2c_research.reports.pledge_report`,
:mod:`~p2c_research.reports.portfolio_report`) exposes exactly these two
functions. ``build(ctx)`` takes a country's run context (the portfolio's
``build(countries, out_dir)`` takes the batch's countries and output folder);
``save(report, out)`` writes under the output folder ``out`` and returns
``{file name: path}``. What ``build`` returns holds three typed members:

- ``tables``: a dataclass of the report's tables (what ``save`` writes as CSV);
- ``figures``: a dataclass of its figures (what ``save`` writes as PNG); each
  figure is drawn once, and ``save`` writes that drawing;
- ``sections``: an object whose properties return :class:`Section`, in reading
  order; a notebook cell shows one by naming it (``report.sections.findings``).

So the four notebooks read alike: open the context, ``build``, ``save``, then
one cell per section, each an attribute, none picked by a string key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Section:
    """One part of a report, shown by one notebook cell: text, tables and figures in order.

    A ``str`` part is Markdown; a DataFrame is shown as the reports render
    tables (:func:`~p2c_research.reports.tables.render_table`); anything else (a
    rendered table, a figure, an HTML block) is displayed as IPython displays
    it; a None part is skipped.
    """

    title: str
    parts: tuple[Any, ...] = ()

    def displayables(self) -> list[Any]:
        """The parts as IPython shows them (text as Markdown, frames as report tables)."""
        import pandas as pd
        from IPython.display import Markdown

        from p2c_research.reports.tables import render_table

        shown: list[Any] = []
        for part in self.parts:
            if isinstance(part, str):
                shown.append(Markdown(part))
            elif isinstance(part, pd.DataFrame):
                shown.append(render_table(part))
            elif part is not None:
                shown.append(part)
        return shown

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(*self.displayables())

    def markdown(self) -> str:
        """The section's text parts (tests and plain-text summaries)."""
        return "\n\n".join(p for p in self.parts if isinstance(p, str))


class Report(Protocol):
    """What ``build`` returns (see the module docstring)."""

    tables: Any
    figures: Any
    sections: Any


class ReportModule(Protocol):
    """A report module: ``build`` and ``save`` (see the module docstring)."""

    build: Callable[..., Any]
    save: Callable[[Any, Path | str], dict[str, Path]]


def members(group: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) of a report's tables, figures or sections, in declaration order.

    ``group`` is a dataclass (tables, figures) or a sections object, whose
    members are its properties in the order its class defines them. Members
    that are None (not drawn for this country) are left out. Reading a
    section member computes it.
    """
    for name in member_names(group):
        value = getattr(group, name)
        if value is not None:
            yield name, value


def member_names(group: Any) -> list[str]:
    """The names :func:`members` reads, without computing them (``group`` may be the class)."""
    if is_dataclass(group):
        return [f.name for f in fields(group)]
    names: list[str] = []
    for cls in reversed((group if isinstance(group, type) else type(group)).__mro__):
        for name, attr in vars(cls).items():
            if (isinstance(attr, property | cached_property) and not name.startswith("_")
                    and name not in names):
                names.append(name)
    if not names:
        raise TypeError(f"{type(group).__name__} has no report members")
    return names


def files_markdown(saved: dict[str, Path], heading: str = "**Files written:**") -> str:
    """The files ``save`` wrote, as a Markdown list of output-relative paths."""
    from p2c_research.escaping import md_code
    from p2c_research.report_io import output_relative

    lines = [heading, ""]
    lines += [f"- {md_code(output_relative(p))}" for p in saved.values()]
    return "\n".join(lines)
