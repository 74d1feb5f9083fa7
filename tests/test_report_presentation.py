"""How the reports present figures and tables: alt text from titles, text columns left-aligned."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import nbformat
from bs4 import BeautifulSoup
from PIL import Image

from p2c_research.figures.theme import title_text
from p2c_research.render.images import RenderedImage, alt_text, figure_alt
from p2c_research.runner import notebooks


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "blue").save(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def test_figure_alt_is_the_title_with_lines_as_sentences() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    assert figure_alt(fig) == ""  # no title: the exporter's generic text applies
    right.set_title("second axes")
    left.set_title("Cambodia: below the range\n  Fixed   broadband.", loc="left")
    assert figure_alt(fig) == "Cambodia: below the range. Fixed broadband"
    fig.suptitle("Cambodia: trends 2015-2024")
    assert figure_alt(fig) == "Cambodia: trends 2015-2024"
    plt.close(fig)
    # A title drawn as a plain text artist (layered figures) is not an axes title.
    fig, ax = plt.subplots()
    title_text(ax, "overlay title")
    assert figure_alt(fig) == ""
    plt.close(fig)
    assert alt_text("A: b\n\nC d.") == "A: b. C d"


def test_rendered_images_carry_their_alt_text_as_display_metadata() -> None:
    assert RenderedImage(b"png")._repr_png_() == b"png"
    assert RenderedImage(b"png", alt="Map")._repr_png_() == (b"png", {"alt": "Map"})


def test_the_html_report_puts_each_images_alt_text_on_it() -> None:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("show()", execution_count=1)
    own = 'Côte d’Ivoire: "below" the range. R&D <5%'
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "a"},
                               metadata={"image/png": {"alt": own}}),
        nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "b"}),
    ]
    nb.cells = [code]
    soup = BeautifulSoup(notebooks.to_html(nb), "html.parser")
    imgs = soup.select(".jp-OutputArea-output img")
    assert [i.get("alt") for i in imgs] == [own, "Report figure"]
    assert all(i["src"].startswith("data:image/png;base64,") for i in imgs)


def test_report_tables_align_text_left_and_numbers_right() -> None:
    import pandas as pd

    from p2c_research.report_io import styled

    frame = pd.DataFrame({"Indicator": ["Fixed <broadband>"], "Actual": [11.2],
                          "Year": pd.array([2024], dtype="Int64"), "Classification": ["on par"]})
    page = BeautifulSoup(styled(frame).to_html(), "html.parser")
    css = page.style.get_text()
    assert "td.col0" in css and "td.col3" in css and "text-align: left" in css
    assert "col1" not in css and "col2" not in css  # numbers keep the right alignment
    assert page.find("td", class_="col0").get_text() == "Fixed <broadband>"  # escaped
