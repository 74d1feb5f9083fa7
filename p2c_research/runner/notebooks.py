"""The analysis notebooks, their parameters, and turning executed notebooks into HTML."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p2c_research.config import RESOURCES_DIR, notebooks_dir, project_root
from p2c_research.errors import P2CError
from p2c_research.runner.page_chrome import (
    PageInfo,
    decorate,
    page_info,
    report_title,
    stable_cell_ids,
    stable_ids,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode

# Report order; the key is the name used in params.output.notebooks.
NOTEBOOKS: dict[str, str] = {
    "landscape": "01_landscape.ipynb",
    "benchmarking": "02_benchmarking.ipynb",
    "pledge_gap_map": "03_pledge_gap_map.ipynb",
}
#: The report's name in page titles, headers and the index (one map: page_chrome.PAGE_TITLES).
REPORT_TITLES: dict[str, str] = {name: report_title(Path(nb).stem) for name, nb in NOTEBOOKS.items()}


def notebook_path(name: str) -> Path:
    return notebooks_dir() / NOTEBOOKS[name]


def available_notebooks() -> list[str]:
    """The report notebooks that exist in this checkout, in report order."""
    return [name for name in NOTEBOOKS if notebook_path(name).exists()]


def validate_parameters(path: Path, parameters: dict[str, Any]) -> None:
    """Check ``parameters`` against the notebook's ``parameters`` cell.

    papermill only warns about unknown parameters; a typo would then run the
    notebook silently on its defaults, so here it is an error.
    """
    declared = _declared_parameters(str(path), path.stat().st_mtime_ns)
    if not declared:
        raise P2CError(f"{path}: no cell tagged 'parameters'; tag the first code cell "
                       "'parameters' so papermill can inject values")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise P2CError(f"{path}: unknown parameter(s) {unknown}; the notebook declares "
                       f"{sorted(declared)}")


@functools.lru_cache(maxsize=16)
def _declared_parameters(path: str, mtime_ns: int) -> dict[str, Any]:
    """The notebook's ``parameters`` cell, read once per file version (a batch asks 600 times)."""
    import papermill

    return papermill.inspect_notebook(path)


#: An ``<img>`` start tag, attribute by attribute. A quoted value (megabytes of
#: base64 in an embedded figure) is read once by ``"[^"]*"``; a lookahead such as
#: ``<img(?![^>]*\balt=)`` backtracks through it and cost 26-33 ms per report.
_VALUE = r"""(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s'">]+))?"""
_ATTR_NAME = re.compile(rf"\s+([^\s=>/]+){_VALUE}")
_IMG_TAG = re.compile(rf"<img((?:\s+[^\s=>/]+{_VALUE})*)(\s*/?>)", re.IGNORECASE)
_FOCUSABLE_DIV = re.compile(
    r'<div class="([^"]*\b(?:jp-OutputArea-output|jp-Cell-inputWrapper)\b[^"]*)"(?![^>]*tabindex)')


def accessible(html: str) -> str:
    """What nbconvert's HTML exporter adds with a BeautifulSoup pass, done with two regexes.

    Images get an alt text and output areas a ``tabindex``, for screen readers
    and keyboards. nbconvert parses the whole page (megabytes of embedded
    images) to do it, which cost as much as rendering the report's template.
    """
    html = _IMG_TAG.sub(_with_alt, html)
    return _FOCUSABLE_DIV.sub(r'<div class="\1" tabindex="0"', html)


def _with_alt(tag: re.Match[str]) -> str:
    names = (name.lower() for name in _ATTR_NAME.findall(tag.group(1)))
    if "alt" in names:
        return tag.group(0)
    return f'<img alt="Report figure"{tag.group(1)}{tag.group(2)}'


#: nbconvert minor versions whose ``HTMLExporter.from_notebook_node`` the report
#: exporter copies up to its BeautifulSoup pass; tests/test_runner.py checks that
#: both exporters give the same page there. Elsewhere the stock exporter runs.
VERIFIED_NBCONVERT: tuple[str, ...] = ("7.16", "7.17")


def _nbconvert_minor() -> str:
    from importlib.metadata import version

    return ".".join(version("nbconvert").split(".")[:2])


def shortcut_active() -> bool:
    """True on a verified nbconvert that still has the private pieces the shortcut calls."""
    if _nbconvert_minor() not in VERIFIED_NBCONVERT:
        return False
    from nbconvert import HTMLExporter

    return hasattr(HTMLExporter, "_init_resources")


def _configure(exporter):
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    # No Markdown output of a report references an image file (figures are image/png
    # outputs, embedded by the template), and nbconvert's embedding pass re-parses each
    # inline HTML tag on its own, which empties a <code> span: "<code></code>path".
    exporter.embed_images = False
    # Validate the notebook once after all preprocessors, not after each of the
    # eleven: each validation walks every output (megabytes of base64 images).
    exporter.optimistic_validation = True
    return exporter


@functools.cache
def _exporter(shortcut: bool = True):
    """One HTML exporter per process: building it and compiling its templates costs more
    than converting a report.

    With ``shortcut`` (and a verified nbconvert, :func:`shortcut_active`) the
    exporter replaces nbconvert's closing BeautifulSoup pass, which parses the
    whole page with its megabytes of images, by :func:`accessible`; otherwise
    it is nbconvert's own ``HTMLExporter``.
    """
    from nbconvert import HTMLExporter

    template = {"extra_template_basedirs": [str(RESOURCES_DIR / "nbconvert")],
                "template_name": "p2c_report"}
    if not (shortcut and shortcut_active()):
        return _configure(HTMLExporter(**template))

    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        """``HTMLExporter`` with its closing BeautifulSoup pass replaced by :func:`accessible`.

        The body is ``HTMLExporter.from_notebook_node`` (nbconvert 7.16-7.17) up to that pass.
        """

        def from_notebook_node(self, nb, resources=None, **kw):
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight = self.filters.get("highlight_code",
                                         Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                              resources=resources)
            self.register_filter("highlight_code", highlight)
            self.register_filter("filter_data_type", data_type)
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return accessible(html), resources

    return _configure(ReportHTMLExporter(**template))


def to_html(executed: Path | NotebookNode, *, shortcut: bool = True,
            page: PageInfo | None = None) -> str:
    """Self-contained HTML with the code hidden and images embedded (nbconvert).

    Takes the executed notebook's path or, to skip reading it back, its node.
    ``shortcut=False`` forces nbconvert's stock exporter. A notebook papermill
    ran gets its page chrome (:mod:`~p2c_research.runner.page_chrome`: title,
    header with links, table of contents), described by ``page`` or else read
    from papermill's metadata; the random ids of the export are made stable, so
    two runs on the same data give the same page apart from its "Generated" line.
    """
    import nbformat

    if isinstance(executed, nbformat.NotebookNode):
        nb = nbformat.from_dict(executed)  # a copy: the caller's node keeps its metadata
    else:
        nb = nbformat.read(str(executed), as_version=4)
    nb.metadata.pop("widgets", None)  # widget state needs a CDN manager; reports are static
    stable_cell_ids(nb)
    info = page or page_info(nb, {n: Path(NOTEBOOKS[n]).stem for n in available_notebooks()})
    if info is not None:
        nb.metadata["title"] = info.title
    body, _ = _exporter(shortcut).from_notebook_node(nb)
    body = stable_ids(body)
    return decorate(body, info) if info is not None else body


def portable(nb: NotebookNode, out_dir: Path, saved_as: Path) -> NotebookNode:
    """The executed notebook as it is saved beside its report: no path of this machine in it.

    papermill records absolute paths (the notebook it ran, the copy it wrote,
    the ``out_dir`` parameter) in the metadata and in the injected parameters
    cell. In the saved copy they become paths a reader of any copy of the
    outputs can use: the source notebook relative to the repository
    (``notebooks/01_landscape.ipynb``), the copy relative to the output folder
    (``KHM/01_landscape.ipynb``), and ``out_dir`` relative to the saved
    notebook's folder (``..``), which is where JupyterLab runs it from. The
    injected cell is also given a fixed id (:func:`page_chrome.stable_cell_ids`).
    Changes ``nb`` in place and returns it.
    """
    out_dir, saved_as = Path(out_dir).resolve(), Path(saved_as).resolve()
    saved_dir = saved_as.parent
    stable_cell_ids(nb)
    meta = nb.metadata.get("papermill")
    if not meta:
        return nb
    replacements: dict[str, str] = {}
    if meta.get("input_path"):
        meta["input_path"] = _portable_path(Path(meta["input_path"]), out_dir)
    if meta.get("output_path"):  # papermill wrote a temporary copy; this is where it is kept
        meta["output_path"] = _portable_path(saved_as, out_dir)
    params = meta.get("parameters") or {}
    for key, value in params.items():
        if isinstance(value, str) and Path(value).is_absolute():
            new = (os.path.relpath(Path(value).resolve(), saved_dir)
                   if Path(value).resolve() == out_dir else _portable_path(Path(value), out_dir))
            params[key] = replacements.setdefault(value, new)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            for old, new in replacements.items():
                cell.source = cell.source.replace(f'"{old}"', f'"{new}"')
    return nb


def _portable_path(path: Path, out_dir: Path) -> str:
    """``path`` relative to the output folder, else to the repository, else its file name."""
    resolved = path.resolve()
    for base in (out_dir, project_root()):
        if resolved.is_relative_to(base):
            return resolved.relative_to(base).as_posix()
    return resolved.name
