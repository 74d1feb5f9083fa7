"""The report HTML exporter: nbconvert's page without its BeautifulSoup pass, same result.

The stock ``HTMLExporter`` adds alt texts and ``tabindex`` with BeautifulSoup;
the report exporter does it with :func:`p2c_research.runner.notebooks.accessible`.
Both pages are parsed here and compared element by element.
"""

from __future__ import annotations

import base64
import io

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from PIL import Image

from p2c_research.runner import notebooks


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def _executed_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("show()", execution_count=1)
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": "# Title\n\nSome *text*",
                                                     "text/plain": "md"}),
        nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "fig"}),
        nbformat.v4.new_output("display_data", data={"text/html": "<table><tr><td>1</td></tr>"
                                                     "</table>", "text/plain": "t"}),
        nbformat.v4.new_output("stream", name="stdout", text="a line\n"),
        nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "fig2"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("Intro"), code]
    return nb


def test_report_exporter_matches_the_stock_exporter() -> None:
    nb = _executed_notebook()
    ours = BeautifulSoup(notebooks.to_html(nb), "html.parser")
    stock_exporter = HTMLExporter(template_name="lab")
    stock_exporter.exclude_input = True
    stock_exporter.exclude_input_prompt = True
    stock_exporter.exclude_output_prompt = True
    stock = BeautifulSoup(stock_exporter.from_notebook_node(nb)[0], "html.parser")

    ours_imgs, stock_imgs = ours.find_all("img"), stock.find_all("img")
    assert len(ours_imgs) == len(stock_imgs) == 2
    assert [i["src"] for i in ours_imgs] == [i["src"] for i in stock_imgs]
    assert all(i.get("alt") for i in ours_imgs)  # every image has an alt text

    def focusable(soup):
        return [sorted(d["class"]) for d in soup.select(".jp-Notebook div.jp-OutputArea-output")
                if d.get("tabindex") == "0"]

    assert focusable(ours) == focusable(stock)
    assert len(focusable(ours)) == 5
    assert ours.select_one(".jp-Notebook").get_text(" ", strip=True) == \
        stock.select_one(".jp-Notebook").get_text(" ", strip=True)


def test_shortcut_is_fenced_to_verified_nbconvert(monkeypatch) -> None:
    """On an nbconvert the shortcut was not checked on, the stock exporter runs, and the
    page it gives has the same images, alt texts and text as the shortcut's."""
    from importlib.metadata import version

    nb = _executed_notebook()
    minor = ".".join(version("nbconvert").split(".")[:2])
    assert notebooks.shortcut_active() == (minor in notebooks.VERIFIED_NBCONVERT)
    fast = BeautifulSoup(notebooks.to_html(nb), "html.parser")
    monkeypatch.setattr(notebooks, "VERIFIED_NBCONVERT", ())
    notebooks._exporter.cache_clear()
    try:
        assert not notebooks.shortcut_active()
        exporter = notebooks._exporter(True)
        assert type(exporter).__name__ == "HTMLExporter"  # nbconvert's own class
        stock = BeautifulSoup(notebooks.to_html(nb), "html.parser")
    finally:
        notebooks._exporter.cache_clear()
    assert [i["src"] for i in fast.find_all("img")] == [i["src"] for i in stock.find_all("img")]
    assert all(i.get("alt") for i in stock.find_all("img"))
    assert fast.get_text(" ", strip=True) == stock.get_text(" ", strip=True)
    assert notebooks.to_html(nb, shortcut=False).count("<img") == 2


def test_accessible_leaves_existing_attributes_alone() -> None:
    html = ('<img alt="a chart" src="x.png"><img src="y.png">'
            '<div class="jp-RenderedImage jp-OutputArea-output" tabindex="-1"></div>'
            '<div class="jp-OutputArea-output"></div><div class="jp-Other"></div>')
    out = BeautifulSoup(notebooks.accessible(html), "html.parser")
    imgs = out.find_all("img")
    assert [i["alt"] for i in imgs] == ["a chart", "Report figure"]
    divs = out.find_all("div")
    assert [d.get("tabindex") for d in divs] == ["-1", "0", None]


def test_accessible_reads_attribute_names_not_substrings() -> None:
    """``ALT`` counts as an alt text; ``data-alt`` and an ``alt=`` inside a value do not."""
    payload = "A" * 200_000 + " alt=x"  # a long embedded value, as a base64 figure is
    html = (f'<img src="a.png" ALT="upper"><IMG data-alt="x" SRC="q">'
            f'<img src="data:image/png;base64,{payload}"/><img src=bare.png>')
    out = BeautifulSoup(notebooks.accessible(html), "html.parser")
    assert [i.get("alt") for i in out.find_all("img")] == \
        ["upper", "Report figure", "Report figure", "Report figure"]
    assert out.find_all("img")[2]["src"].endswith(payload)


def test_a_code_span_in_a_markdown_output_keeps_its_text() -> None:
    """The "Files written" lists: ``md_code`` paths stay inside their <code> element."""
    from p2c_research.escaping import md_code

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("files()", execution_count=1)
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"text/markdown": f"- {md_code('KHM/tables/x_y.csv')}"})]
    nb.cells = [cell]
    for shortcut in (True, False):
        soup = BeautifulSoup(notebooks.to_html(nb, shortcut=shortcut), "html.parser")
        codes = [c.get_text() for c in soup.select("li code")]
        assert codes == ["KHM/tables/x_y.csv"], (shortcut, codes)
