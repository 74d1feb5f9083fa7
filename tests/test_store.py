"""The tidy panel schema, atomic writes and provenance sidecars."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from p2c_research.errors import DataError
from p2c_research.store import (
    Provenance,
    atomic_path,
    provenance_path,
    read_panel,
    sha256_file,
    validate_panel,
    write_panel,
)


def _panel(**over):
    df = pd.DataFrame({"iso3": ["KHM", "KHM"], "indicator": ["internet_users"] * 2,
                       "year": [2021, 2022], "value": [55.6, 56.7], "source": ["t", "t"]})
    for k, v in over.items():
        df[k] = v
    return df


def test_valid_panel_roundtrip_with_provenance(tmp_path):
    path = write_panel(_panel(), tmp_path / "p.parquet",
                       Provenance(source="test", url_or_file="x.csv", licence="CC BY 4.0"))
    back = read_panel(path)
    assert list(back.columns) == ["iso3", "indicator", "year", "value", "source"]
    assert back["value"].tolist() == [55.6, 56.7]
    side = json.loads(provenance_path(path).read_text())
    assert side["sha256"] == sha256_file(path)
    assert side["licence"] == "CC BY 4.0" and side["retrieved_at"]


@pytest.mark.parametrize("column,value,fragment", [
    ("iso3", ["KHM", "kh"], "iso3"),
    ("year", [2021, 1800], "year"),
    ("value", [1.0, float("nan")], "value"),
])
def test_invalid_rows_are_named(column, value, fragment):
    with pytest.raises(DataError, match=fragment) as err:
        validate_panel(_panel(**{column: value}), origin="bad.parquet")
    assert "row 1" in str(err.value) and "bad.parquet" in str(err.value)


def test_duplicate_country_year_rejected():
    with pytest.raises(DataError):
        validate_panel(_panel(year=[2022, 2022]))


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
