"""Peer statistics: median, IQR and percentile against hand and scipy/numpy computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import WINDOW, make_panel
from scipy.stats import percentileofscore

from p2c_research.analyses.peers import (
    indicator_peer_stats,
    level_peer_stats,
    peer_membership,
    percentile_among,
)
from p2c_research.analyses.scores import world_scores


def test_percentile_definition_matches_scipy_kind_mean() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        peers = rng.integers(0, 6, size=rng.integers(1, 12)).astype(float)
        value = float(rng.integers(0, 6))
        assert percentile_among(value, peers) == pytest.approx(
            percentileofscore(peers, value, kind="mean"))


def test_percentile_by_hand() -> None:
    # two peers strictly below, two tied: (2 + 0.5 * 2) / 4
    assert percentile_among(30.0, [10, 20, 30, 30]) == pytest.approx(75.0)
    assert percentile_among(5.0, [10, 20]) == 0.0
    assert percentile_among(25.0, [10, 20]) == 100.0
    assert np.isnan(percentile_among(5.0, []))
    assert np.isnan(percentile_among(float("nan"), [1, 2]))


def test_membership_excludes_the_country() -> None:
    m = peer_membership({"set": ["XXX", "AAA", "BBB"]}, "XXX")
    assert m["peer"].tolist() == ["AAA", "BBB"]
    assert set(m["iso3"]) == {"XXX"}


def test_indicator_peer_median_iqr_percentile(catalog) -> None:
    panel = make_panel([
        ("AAA", "internet_users", 2020, 10.0),
        ("BBB", "internet_users", 2020, 20.0),
        ("CCC", "internet_users", 2020, 30.0),
        ("DDD", "internet_users", 2020, 30.0),
        ("XXX", "internet_users", 2020, 30.0),
        ("ZZZ", "internet_users", 2020, 99.0),   # not a peer
    ])
    world = world_scores(panel, catalog, WINDOW, 0.5)
    membership = peer_membership({"set": ["AAA", "BBB", "CCC", "DDD", "XXX"]}, "XXX")
    stats = indicator_peer_stats(world, membership)
    row = stats[stats["indicator"] == "internet_users"].iloc[0]
    peers = np.array([10.0, 20.0, 30.0, 30.0])
    assert row["peer_n"] == 4
    assert row["peer_median"] == pytest.approx(np.median(peers))
    assert row["peer_q25"] == pytest.approx(np.percentile(peers, 25))   # 17.5
    assert row["peer_q75"] == pytest.approx(np.percentile(peers, 75))   # 30
    assert row["peer_q25"] == pytest.approx(17.5)
    assert row["peer_percentile"] == pytest.approx(75.0)
    assert row["value"] == 30.0
    # every scored catalog indicator has a row; no value -> no percentile
    assert len(stats) == len(catalog.scored)
    other = stats[stats["indicator"] == "adult_literacy"].iloc[0]
    assert other["peer_n"] == 0
    assert np.isnan(other["peer_percentile"])


def test_lower_is_better_percentile_is_oriented(catalog) -> None:
    panel = make_panel([
        ("AAA", "mobile_data_price", 2020, 1.0),
        ("BBB", "mobile_data_price", 2020, 2.0),
        ("CCC", "mobile_data_price", 2020, 3.0),
        ("XXX", "mobile_data_price", 2020, 1.5),
    ])
    world = world_scores(panel, catalog, WINDOW, 0.5)
    stats = indicator_peer_stats(world, peer_membership({"s": ["AAA", "BBB", "CCC"]}, "XXX"))
    row = stats[stats["indicator"] == "mobile_data_price"].iloc[0]
    # cheaper than 2 of 3 peers: better than two thirds of them
    assert row["peer_percentile"] == pytest.approx(200 / 3)
    assert row["peer_median"] == pytest.approx(2.0)


def test_pillar_peer_stats_count_only_sufficient_peers(catalog) -> None:
    rows = []
    # ADOPTION has 10 indicators; at threshold 0.2 two present are enough
    for iso3, a, b in (("AAA", 10, 20), ("BBB", 50, 50), ("XXX", 40, 40)):
        rows += [(iso3, "internet_users", 2020, float(a)),
                 (iso3, "adult_literacy", 2020, float(b))]
    rows.append(("CCC", "internet_users", 2020, 100.0))  # 1 of 10: insufficient
    world = world_scores(make_panel(rows), catalog, WINDOW, 0.2)
    membership = peer_membership({"s": ["AAA", "BBB", "CCC"]}, "XXX")
    pil = level_peer_stats(world, membership, "pillar").set_index("pillar")
    adoption = pil.loc["ADOPTION"]
    assert adoption["score"] == pytest.approx(40.0)
    assert adoption["peer_n"] == 2          # CCC is insufficient and does not count
    assert adoption["peer_median"] == pytest.approx(np.median([15.0, 50.0]))
    assert adoption["peer_percentile"] == pytest.approx(50.0)   # above AAA, below BBB
    access = pil.loc["ACCESS"]
    assert access["peer_n"] == 0
    assert np.isnan(access["peer_percentile"])
    subs = level_peer_stats(world, membership, "sub_pillar").set_index("sub_pillar")
    # usage has 2 indicators, so CCC's one value (1 of 2) is sufficient at sub-pillar level
    assert subs.loc["usage", "peer_n"] == 3
    assert subs.loc["usage", "peer_median"] == pytest.approx(np.median([10.0, 50.0, 100.0]))


def test_one_call_handles_several_countries(catalog) -> None:
    panel = make_panel([(c, "internet_users", 2020, v) for c, v in
                        (("AAA", 10.0), ("BBB", 20.0), ("CCC", 30.0))])
    world = world_scores(panel, catalog, WINDOW, 0.5)
    sets = {"all": ["AAA", "BBB", "CCC"]}
    membership = pd.concat([peer_membership(sets, c) for c in ("AAA", "BBB", "CCC")])
    stats = indicator_peer_stats(world, membership)
    got = stats[stats["indicator"] == "internet_users"].set_index("iso3")
    assert got.loc["AAA", "peer_percentile"] == 0.0
    assert got.loc["BBB", "peer_percentile"] == 50.0
    assert got.loc["CCC", "peer_percentile"] == 100.0
    assert got.loc["AAA", "peer_median"] == pytest.approx(25.0)
    assert got.loc["CCC", "peer_median"] == pytest.approx(15.0)
