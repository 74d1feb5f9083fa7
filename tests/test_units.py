"""Unit conversions (p2c_research/units.py) on tiny hand-made frames, expected values by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from p2c_research.units import throughput_to_mbps, to_catalog_values

CONTEXT = pd.DataFrame([
    ("AAA", "population", 2022, 2_000_000.0, "wdi_file:SP.POP.TOTL"),
    ("AAA", "internet_users", 2022, 40.0, "wdi_file:IT.NET.USER.ZS"),
    ("AAA", "gni_pc", 2022, 1200.0, "wdi_file:NY.GNP.PCAP.CD"),
], columns=["iso3", "indicator", "year", "value", "source"])


def itu_rows(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["iso3", "code", "year", "value"])
    return frame.assign(source="itu_datahub_csv:" + frame["code"], note="")


def values(out: pd.DataFrame) -> dict[tuple[str, int], tuple[float, str]]:
    return {(r.indicator, r.year): (r.value, r.source) for r in out.itertuples()}


def test_bandwidth_is_divided_by_internet_users(catalog):
    out = values(to_catalog_values(itu_rows([("AAA", "i4214l", 2022, 4000.0)]), "itu", catalog,
                                   CONTEXT))
    value, source = out[("international_bandwidth_per_user", 2022)]
    assert value == pytest.approx(4000 * 1000 / (2_000_000 * 0.40))  # 5 kbit/s per user
    assert source.endswith("per wdi_file:SP.POP.TOTL and wdi_file:IT.NET.USER.ZS")


def test_us_dollar_price_falls_back_only_where_the_share_is_missing_or_zero(catalog):
    rows = itu_rows([("AAA", "i271mb_5GB$", 2022, 5.0), ("AAA", "i271mb_5GB_GNI", 2022, 0.0),
                     ("AAA", "i271mb_5GB$", 2021, 5.0), ("AAA", "i271mb_5GB_GNI", 2021, 4.5)])
    out = values(to_catalog_values(rows, "itu", catalog, CONTEXT))
    # 2022: the 0 share is "not available", so 5 US$ / (1200 / 12) = 5% of monthly GNI
    assert out[("mobile_data_price", 2022)] == (
        pytest.approx(5.0), "itu_datahub_csv:i271mb_5GB$ per monthly wdi_file:NY.GNP.PCAP.CD")
    assert out[("mobile_data_price", 2021)] == (4.5, "itu_datahub_csv:i271mb_5GB_GNI")


def test_count_fills_gaps_of_the_per_100_series_only(catalog):
    rows = itu_rows([("AAA", "i911mw", 2022, 55.0), ("AAA", "i271mw", 2022, 1_000_000.0),
                     ("AAA", "i271mw", 2021, 900_000.0)])
    ctx = pd.concat([CONTEXT, CONTEXT.assign(year=2021)], ignore_index=True)
    out = values(to_catalog_values(rows, "itu", catalog, ctx))
    assert out[("mobile_broadband_subscriptions", 2022)][0] == 55.0
    assert out[("mobile_broadband_subscriptions", 2021)][0] == pytest.approx(45.0)


def test_missing_denominator_drops_the_value_and_says_so(catalog):
    messages: list[str] = []
    out = to_catalog_values(itu_rows([("AAA", "i4214l", 2019, 4000.0)]), "itu", catalog,
                            CONTEXT, messages)
    assert out.empty
    assert any("1 value(s) dropped" in m for m in messages)
    messages.clear()
    assert to_catalog_values(itu_rows([("AAA", "i4214l", 2022, 4000.0)]), "itu", catalog,
                             None, messages).empty
    assert any("lacks population, internet_users" in m for m in messages)


def test_throughput_units():
    v = pd.Series([1e7, 44060.0, 86.42, 512.0, 2.2e13, 0.0])
    notes = pd.Series(["", "", "en Mbps", "512kbit/s", "", ""])
    out = throughput_to_mbps(v, notes).tolist()
    assert out[:4] == pytest.approx([10.0, 44.06, 86.42, 0.512])
    assert np.isnan(out[4]) and np.isnan(out[5])
