"""The indicator catalog: size, pillar balance, validation and the WDI conversion."""

from __future__ import annotations

import pandas as pd
import pytest

from p2c_research.catalog import load_catalog, parse_catalog, wdi_to_panel
from p2c_research.config import RESOURCES_DIR
from p2c_research.docs import render_indicator_docs
from p2c_research.errors import CatalogError


def test_catalog_size_and_pillar_balance():
    cat = load_catalog()
    assert len(cat.scored) >= 30
    for pillar in ("ACCESS", "ADOPTION", "VALUE_CREATION"):
        assert sum(i.pillar == pillar for i in cat.indicators) >= 6
    context_ids = {i.id for i in cat.context}
    assert {"gdp_pc_ppp", "gni_pc", "population", "urban_share", "population_density"} <= context_ids
    assert all(i.sub_pillar for i in cat.indicators)


def test_every_scored_indicator_documents_its_goalposts():
    for ind in load_catalog().scored:
        assert ind.goalposts.lower < ind.goalposts.upper
        assert len(ind.goalposts.reason) > 20, ind.id


def test_catalog_rejects_reversed_goalposts_and_names_the_entry():
    text = (RESOURCES_DIR / "catalog.yaml").read_text()
    bad = text.replace("goalposts: {lower: 0, upper: 120,", "goalposts: {lower: 130, upper: 120,", 1)
    with pytest.raises(CatalogError, match=r"indicators\[mobile_subscriptions\]\.goalposts"):
        parse_catalog(bad, origin="catalog.yaml")


def test_catalog_rejects_unknown_pillar():
    text = (RESOURCES_DIR / "catalog.yaml").read_text().replace("pillar: ADOPTION", "pillar: ADOPTON", 1)
    with pytest.raises(CatalogError, match="pillar"):
        parse_catalog(text)


def test_wdi_to_panel_maps_codes_and_divides_counts_by_population():
    raw = pd.DataFrame({
        "iso3": ["KHM", "KHM", "KHM", "MDG"],
        "code": ["IT.CEL.SETS.P2", "IP.JRN.ARTC.SC", "SP.POP.TOTL", "IP.JRN.ARTC.SC"],
        "year": [2022, 2022, 2022, 2022],
        "value": [120.5, 500.0, 16_000_000.0, 80.0],
    })
    panel = wdi_to_panel(raw, source="test").set_index(["iso3", "indicator"])["value"]
    assert panel[("KHM", "mobile_subscriptions")] == 120.5
    assert panel[("KHM", "journal_articles")] == pytest.approx(500 / 16_000_000 * 1e6)
    assert panel[("KHM", "population")] == 16_000_000.0
    # No population for MDG: the per-capita value cannot be computed and is dropped.
    assert ("MDG", "journal_articles") not in panel.index


def test_indicator_docs_are_current(project_root):
    committed = (project_root / "docs" / "indicators.md").read_text(encoding="utf-8")
    assert committed == render_indicator_docs(), "run `invoke docs.indicators`"
