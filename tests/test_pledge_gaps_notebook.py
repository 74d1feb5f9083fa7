"""Smoke test of notebook 03 on the sample, with one hostile pledge injected.

The notebook runs once (module fixture) in a temporary project tree
(``P2C_ROOT``) holding a copy of the sample whose pledge file has one extra
pledge for Cambodia with ``<script>alert(1)</script>`` as its description. The
same run checks the outputs (the KHM smoke run) and the escaping in the HTML
export. The all-country cache is shared with the checkout's, so only the first
run ever computes the world scores and fits for this pledge file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from p2c_research.config import cache_dir, notebooks_dir, params_dir, sample_dir

pytestmark = pytest.mark.smoke

NOTEBOOK = notebooks_dir() / "03_pledge_gap_map.ipynb"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ENTITY = "Evil <b>Corp</b>"
INJECTED_ID = "XSS-0001"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _hostile_pledges(sample: Path) -> pd.DataFrame:
    """The sample pledges plus one untrusted pledge to KHM (big, stale, matching no priority)."""
    path = sample / "pledges.parquet"
    if path.exists():
        pledges = pd.read_parquet(path)
    else:  # the sample is being rebuilt: the generator gives the same set
        from p2c_research.pledges.synthetic import generate_pledges

        pledges = generate_pledges()
    row = pledges.iloc[[0]].copy()
    row["pledge_id"] = INJECTED_ID
    row["entity"] = ENTITY
    row["description"] = SCRIPT
    row["target_countries"] = "KHM"
    row["target_regions"] = ""
    row["focus_area"] = "ACCELERATE"
    row["pillar"] = "policy_regulation"
    row["usd_value"] = 5e9
    row["status"] = "not_started"
    row["start_date"] = pd.Timestamp("2019-01-01")
    row["end_date"] = pd.Timestamp("2020-01-01")
    return pd.concat([pledges, row], ignore_index=True)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path]:
    import papermill as pm

    sample = sample_dir()
    if not (sample / "panel.parquet").exists():
        pytest.skip("the embedded sample is not built (data/sample/panel.parquet)")
    root = tmp_path_factory.mktemp("p2c_root")
    dest = root / "data" / "sample"
    dest.mkdir(parents=True)
    for f in sample.iterdir():
        if f.is_file() and not f.name.startswith("pledges.parquet"):
            shutil.copy2(f, dest / f.name)
    shutil.copytree(params_dir(), root / "params")
    _hostile_pledges(sample).to_parquet(dest / "pledges.parquet", index=False)
    out = root / "outputs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P2C_CACHE", str(cache_dir()))  # resolved before P2C_ROOT moves
        mp.setenv("P2C_ROOT", str(root))
        pm.execute_notebook(
            str(NOTEBOOK), str(root / "03_out.ipynb"),
            parameters={"country": "KHM", "out_dir": str(out), "data": "sample"},
            kernel_name="python3", progress_bar=False, cwd=str(root),
        )
    return nbformat.read(root / "03_out.ipynb", as_version=4), out / "KHM"


def test_notebook_smoke_khm_writes_tables_and_maps(executed) -> None:
    nb, country_dir = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    # The first output after the parameters is the header, which says the pledges are synthetic.
    header = next(o for c in code[1:] for o in c.outputs if "data" in o)
    assert "SYNTHETIC" in header["data"]["text/markdown"].split("\n\n")[1]

    tables = country_dir / "tables"
    gaps = pd.read_csv(tables / "pledge_gaps.csv")
    assert list(gaps.columns[:7]) == ["priority_id", "pillar", "need", "pledge_usd",
                                      "pledge_count", "gap_index", "flag"]
    khm_priorities = ["digital_infrastructure", "digital_trust", "digital_citizens",
                      "digital_government", "digital_business"]
    assert gaps.loc[gaps["level"] == "priority", "priority_id"].tolist() == khm_priorities
    assert set(gaps.loc[gaps["level"] == "pillar", "pillar"]) == {
        "ACCESS", "ADOPTION", "VALUE_CREATION"}
    assert gaps["gap_index"].dropna().between(0, 100).all()
    plan = pd.read_csv(tables / "action_plan.csv")
    assert plan["priority_id"].tolist() == khm_priorities
    assert set(plan["step"]) <= {"mobilise new pledges", "accelerate implementation",
                                 "monitor", "validate data"}
    assert plan["rule"].str.startswith("rule ").all()
    assert (tables / "action_plan.xlsx").read_bytes()[:2] == b"PK"  # a zip: an XLSX book
    # The injected pledge reaches KHM, matches no priority and is stale.
    assert INJECTED_ID in set(pd.read_csv(tables / "unmatched_pledges.csv")["pledge_id"])
    assert INJECTED_ID in set(pd.read_csv(tables / "stale_pledges.csv")["pledge_id"])
    reaching = pd.read_csv(tables / "pledges_reaching.csv")
    assert reaching.iloc[0]["pledge_id"] == INJECTED_ID  # the largest: USD 5 bn, all to KHM
    assert reaching.iloc[0]["usd_allocated"] == 5e9
    matrix = pd.read_csv(tables / "priority_pledge_matrix.csv")
    assert matrix.iloc[-1]["pledges"] == len(reaching)
    league = pd.read_csv(tables / "league_table.csv")
    assert league["iso3"].is_unique and "KHM" in set(league["iso3"])
    ranked = league.dropna(subset=["gap_index"])
    assert ranked["gap_index"].is_monotonic_decreasing
    for name in ("follow_through", "small_states_not_drawn"):
        assert (tables / f"{name}.csv").exists()
    for name in ("map_gap_index", "map_need", "map_pledge_usd_pc", "map_bivariate",
                 "map_regional_gap_index"):
        png = country_dir / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 20_000


def test_pledge_text_is_escaped_in_the_html_report(executed) -> None:
    from nbconvert import HTMLExporter

    nb, _ = executed
    body, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    assert SCRIPT not in body
    assert ESCAPED in body
    assert ENTITY not in body and "Evil &lt;b&gt;Corp&lt;/b&gt;" in body
    # The raw text must not sit unescaped in any HTML or Markdown output either.
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime in ("text/html", "text/markdown"):
                assert SCRIPT not in json.dumps(output.get("data", {}).get(mime, ""))
