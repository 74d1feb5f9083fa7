"""Unit tests of the pledge-gap analyses on tiny hand-made frames (no data files)."""

from __future__ import annotations

import math
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from p2c_research.analyses import allocation as al
from p2c_research.analyses import classification as cl
from p2c_research.analyses import gaps as gp
from p2c_research.analyses import pledge_gaps as pg

# --------------------------------------------------------------------------- fixtures
ECONOMIES = ["KHM", "LAO", "MDG", "MRT", "DOM"]
REGIONS = {
    "asia_pacific": ["KHM", "LAO"],
    "africa": ["MDG", "MRT"],
    "ldc": ["KHM", "LAO", "MDG", "MRT"],
    "americas": ["DOM", "USA"],  # USA is not in the economy frame: dropped
}


def members(region: str) -> list[str]:
    if region not in REGIONS:
        raise ValueError(f"unknown region {region}")
    return REGIONS[region]


def countries_frame() -> pd.DataFrame:
    return pd.DataFrame({"iso3": ECONOMIES})


POPULATION = pd.Series({"KHM": 17.0, "LAO": 7.0, "MDG": 30.0, "MRT": 5.0, "DOM": 11.0})


def pledge(pid: str, countries: str = "", regions: str = "", usd: float = np.nan,
           **extra: object) -> dict[str, object]:
    row = {"pledge_id": pid, "target_countries": countries, "target_regions": regions,
           "usd_value": usd, "entity": "Org", "description": "", "focus_area": "ACCESS",
           "pillar": "infrastructure", "stakeholder_group": "government",
           "status": "in_progress", "end_date": pd.NaT}
    row.update(extra)
    return row


def pledge_frame() -> pd.DataFrame:
    return pd.DataFrame([
        pledge("P1", countries="KHM", usd=100.0),
        pledge("P2", regions="africa", usd=90.0),
        pledge("P3", regions="global"),  # no value: counts only
        pledge("P4", countries="KHM;LAO", regions="africa", usd=1e9 / 7),
        pledge("P5", regions="asia_pacific;ldc", usd=0.1 + 0.2),
        pledge("P6", countries="MRT;DOM", regions="americas", usd=333.33),
    ])


# --------------------------------------------------------------------------- allocation
@pytest.mark.parametrize("rule", ["equal", "population", "need"])
def test_allocation_sums_to_pledge_totals(rule: str) -> None:
    pledges = pledge_frame()
    need = pd.Series({"KHM": 40.0, "LAO": 55.0, "MDG": 70.0, "MRT": 65.0, "DOM": 30.0})
    out = al.allocate_pledges(pledges, countries_frame(), rule, population=POPULATION,
                              need=need, region_members=members)
    shares = out.groupby("pledge_id")["share"].sum()
    assert set(shares.index) == set(pledges["pledge_id"])
    assert np.allclose(shares.to_numpy(), 1.0, rtol=0, atol=1e-15)
    usd = out.groupby("pledge_id")["usd_allocated"].apply(lambda s: math.fsum(s))
    values = pledges.set_index("pledge_id")["usd_value"]
    for pid, value in values.dropna().items():
        assert usd[pid] == pytest.approx(value, rel=1e-14, abs=0)
    # The pledge without a value allocates counts only.
    p3 = out[out["pledge_id"] == "P3"]
    assert p3["usd_allocated"].isna().all()
    assert p3["count_allocated"].sum() == pytest.approx(1.0, abs=1e-15)
    assert len(p3) == len(ECONOMIES) and (p3["basis"] == "global").all()
    # Fractional counts add up to the number of pledges.
    assert out["count_allocated"].sum() == pytest.approx(len(pledges), abs=1e-12)


def test_allocation_targets_union_and_hand_computed_population_split() -> None:
    out = al.allocate_pledges(pledge_frame(), countries_frame(), "population",
                              population=POPULATION, region_members=members)
    by = out.set_index(["pledge_id", "iso3"])
    # P2 (Africa, USD 90): MDG 30 and MRT 5 people.
    assert by.loc[("P2", "MDG"), "usd_allocated"] == pytest.approx(90 * 30 / 35)
    assert by.loc[("P2", "MRT"), "usd_allocated"] == pytest.approx(90 * 5 / 35)
    # P4: listed countries plus Africa -> union of four, basis says so.
    p4 = out[out["pledge_id"] == "P4"]
    assert sorted(p4["iso3"]) == ["KHM", "LAO", "MDG", "MRT"]
    assert set(p4["basis"]) == {"countries+regions"}
    assert by.loc[("P4", "LAO"), "share"] == pytest.approx(7 / (17 + 7 + 30 + 5))
    # P5: two overlapping regions are deduplicated (KHM once).
    p5 = out[out["pledge_id"] == "P5"]
    assert sorted(p5["iso3"]) == ["KHM", "LAO", "MDG", "MRT"]
    assert (p5["n_targets"] == 4).all()
    # P6: USA is not an economy in the frame, MRT + DOM remain.
    assert sorted(out.loc[out["pledge_id"] == "P6", "iso3"]) == ["DOM", "MRT"]
    # A single-country pledge goes whole to it.
    assert by.loc[("P1", "KHM"), "share"] == 1.0
    assert by.loc[("P1", "KHM"), "usd_allocated"] == 100.0


def test_allocation_equal_split_and_weight_fallbacks() -> None:
    pledges = pd.DataFrame([pledge("A", countries="KHM;LAO;DOM", usd=30.0),
                            pledge("B", countries="MDG;MRT", usd=10.0)])
    eq = al.allocate_pledges(pledges, countries_frame(), "equal", region_members=members)
    assert eq.loc[eq["pledge_id"] == "A", "usd_allocated"].tolist() == pytest.approx([10.0] * 3)
    # need: DOM has no need value -> imputed with the median of KHM, LAO (40, 60) = 50.
    need = pd.Series({"KHM": 40.0, "LAO": 60.0})
    nd = al.allocate_pledges(pledges, countries_frame(), "need", need=need,
                             region_members=members).set_index(["pledge_id", "iso3"])
    assert nd.loc[("A", "DOM"), "weight"] == 50.0
    assert bool(nd.loc[("A", "DOM"), "weight_imputed"])
    assert nd.loc[("A", "KHM"), "usd_allocated"] == pytest.approx(30 * 40 / 150)
    # Pledge B: no need for MDG or MRT -> equal split, flagged.
    assert nd.loc[("B", "MDG"), "share"] == pytest.approx(0.5)
    assert bool(nd.loc[("B", "MRT"), "equal_fallback"])
    assert not nd.loc[("B", "MRT"), "weight_imputed"]


def test_allocation_errors_and_unresolved_targets() -> None:
    pledges = pd.DataFrame([pledge("X", countries="KHM;ZZZ", usd=5.0),
                            pledge("Y", regions="mars", usd=7.0),
                            pledge("Z", usd=1.0)])
    with pytest.raises(ValueError, match="unknown allocation rule"):
        al.allocate_pledges(pledges, countries_frame(), "lottery", region_members=members)
    with pytest.raises(ValueError, match="population series"):
        al.allocate_pledges(pledges, countries_frame(), "population", region_members=members)
    out = al.allocate_pledges(pledges, countries_frame(), "equal", region_members=members)
    assert out["pledge_id"].tolist() == ["X"]  # Y and Z reach no economy
    problems = al.unresolved_targets(pledges, ECONOMIES, members)
    got = {(r.pledge_id, r.problem, r.value, r.allocated) for r in problems.itertuples()}
    assert got == {("X", "unknown target country", "ZZZ", True),
                   ("Y", "unknown or empty target region", "mars", False),
                   ("Z", "no target at all", "", False)}
    assert "population" in al.describe_rule("population")


def test_country_totals_counts_whole_and_fractional() -> None:
    out = al.allocate_pledges(pledge_frame(), countries_frame(), "equal", region_members=members)
    totals = al.country_totals(out, POPULATION).set_index("iso3")
    # KHM is reached by P1, P3, P4, P5.
    assert totals.loc["KHM", "pledge_count"] == 4
    khm_usd = 100.0 + (1e9 / 7) / 4 + (0.1 + 0.2) / 4
    assert totals.loc["KHM", "pledge_usd"] == pytest.approx(khm_usd)
    assert totals.loc["KHM", "usd_per_capita"] == pytest.approx(khm_usd / 17.0)
    assert totals["count_allocated"].sum() == pytest.approx(6.0)


# --------------------------------------------------------------------------- classification
def priorities() -> list[SimpleNamespace]:
    return [
        SimpleNamespace(id="infra", title="Infrastructure", pillars=["ACCESS"],
                        sub_pillars=["infrastructure", "affordability"],
                        keywords=["broadband", "affordab", "mobile network"]),
        SimpleNamespace(id="trust", title="Trust", pillars=["ACCESS"], sub_pillars=["trust"],
                        keywords=["cybersecurity", "CERT"]),
        SimpleNamespace(id="business", title="Business", pillars=["VALUE_CREATION"],
                        sub_pillars=["digital_business", "innovation"],
                        keywords=["SME", "e-commerce"]),
        SimpleNamespace(id="gov", title="Government", pillars=["VALUE_CREATION"],
                        sub_pillars=[], keywords=["e-government"]),
    ]


SUBS = {"infrastructure", "affordability", "trust", "usage", "skills", "inclusion",
        "innovation", "ict_sector_and_trade", "digital_business"}


def test_classification_of_hand_made_pledges() -> None:
    pledges = pd.DataFrame([
        pledge("A", focus_area="ACCESS", pillar="infrastructure",
               description="Rural broadband rollout"),
        pledge("B", focus_area="ACCELERATE", pillar="investment",
               description="A fund for SMEs and E-Commerce platforms"),
        pledge("C", focus_area="ADOPTION", pillar="skills",
               description="Training and certification of teachers"),
        pledge("D", focus_area="VALUE_CREATION", pillar="innovation", description="Innovation hub"),
        pledge("E", focus_area="ACCESS", pillar="trust", entity="National CERTs network",
               description="Affordability study"),
        pledge("F", focus_area="ADOPTION", pillar="usage",
               description="Smells of constraint; mobile\n networks elsewhere"),
    ])
    labels = cl.classify_pledges(pledges, priorities(), SUBS)
    got = {(r.pledge_id, r.priority_id, r.match) for r in labels.itertuples()}
    assert got == {
        ("A", "infra", "pillar+keyword"),   # sub-pillar decides: not the trust priority
        ("B", "business", "keyword"),       # SMEs (acronym + s), e-commerce (any case)
        ("D", "business", "pillar"),
        ("D", "gov", "pillar"),             # gov names no sub-pillar: focus area decides
        ("E", "trust", "pillar+keyword"),   # CERTs in the entity
        ("E", "infra", "keyword"),          # affordab-ility
        ("F", "infra", "keyword"),          # "mobile\n networks": whitespace run, prefix
    }
    kw = labels.set_index(["pledge_id", "priority_id"])["keywords"]
    assert kw[("B", "business")] == "SME;e-commerce"
    # C: "certification" is not the acronym CERT, "train" is no keyword; F: "Smells" is no SME.
    assert cl.unmatched_pledges(pledges, labels)["pledge_id"].tolist() == ["C"]


def test_keyword_pattern_rules() -> None:
    assert cl.keyword_pattern("train").search("Training") is not None
    assert cl.keyword_pattern("train").search("constraint") is None
    assert cl.keyword_pattern("CERT").search("certificate") is None
    assert cl.keyword_pattern("CERT").search("a CERT.") is not None
    assert cl.keyword_pattern("digital ID").search("Digital identity") is not None
    assert cl.matched_keywords("5G towers", ["4G", "5G"]) == ["5G"]


# --------------------------------------------------------------------------- need, support, gap
def test_gap_index_on_hand_computed_case() -> None:
    """Five economies; need from score + benchmark; support from a real allocation."""
    scores = pd.DataFrame({"iso3": ["KHM", "LAO", "MDG", "MRT", "DOM"], "level": "country",
                           "group_id": "all", "score": [25.0, 40.0, 60.0, 80.0, np.nan]})
    under = pd.DataFrame({"iso3": ["KHM", "MDG"], "level": "country", "group_id": "all",
                          "n_benchmarked": [2, 3], "n_under": [1, 0],
                          "under_share": [0.5, 0.0]})
    need = gp.need_scores(scores, under).set_index("iso3")
    # need = (100 - score) + 10 x under_share
    assert need["need"].to_dict() == pytest.approx(
        {"KHM": 80.0, "LAO": 60.0, "MDG": 40.0, "MRT": 20.0, "DOM": np.nan}, nan_ok=True)
    assert need.loc["LAO", "need_basis"] == "score only (no benchmark)"
    assert need.loc["KHM", "need_basis"] == "score + benchmark"

    pledges = pd.DataFrame([pledge("S1", countries="MDG", usd=50.0),
                            pledge("S2", countries="MRT", usd=100.0)])
    alloc = al.allocate_pledges(pledges, countries_frame(), "equal", region_members=members)
    groups = gp.pledge_groups(pledges, pd.DataFrame(columns=cl.LABEL_COLUMNS))
    pop = pd.Series(10.0, index=ECONOMIES)
    support = gp.support_by_group(alloc, groups[groups["level"] == "country"], pop, ECONOMIES)
    res = gp.gap_index(need.reset_index(), support).set_index("iso3")

    # Hand computation. need pct (4 ranked): KHM 1, LAO 2/3, MDG 1/3, MRT 0.
    # USD per capita: KHM 0, LAO 0 (tie: rank 1.5 -> pct 1/6), MDG 5 (2/3), MRT 10 (1).
    expected_gap = {"KHM": 100 * 1 * (1 - 1 / 6), "LAO": 100 * (2 / 3) * (1 - 1 / 6),
                    "MDG": 100 * (1 / 3) * (1 - 2 / 3), "MRT": 0.0}
    assert res.loc[list(expected_gap), "gap_index"].to_dict() == pytest.approx(expected_gap)
    assert res.loc["MDG", "usd_per_capita"] == 5.0
    assert res.loc[["KHM", "LAO", "MDG", "MRT"], "gap_rank"].tolist() == [1, 2, 3, 4]
    assert res.loc[["KHM", "LAO", "MDG", "MRT"], "need_rank"].tolist() == [1, 2, 3, 4]
    assert res.loc[["KHM", "LAO", "MDG", "MRT"], "support_rank"].tolist() == [1, 1, 3, 4]
    assert (res.loc[["KHM", "LAO", "MDG", "MRT"], "n_ranked"] == 4).all()
    assert res["flag"].to_dict() == {
        "KHM": "high need, thin support", "LAO": "high need, thin support",
        "MDG": "supported", "MRT": "low need", "DOM": "no data"}
    assert pd.isna(res.loc["DOM", "gap_index"])
    league = gp.league_table(res.reset_index(), pd.DataFrame({
        "iso3": ECONOMIES, "name": list("abcde"), "wb_region": "r", "income_group": "i",
        "ldc": False, "lldc": False, "sids": False}))
    assert league["iso3"].tolist() == ["KHM", "LAO", "MDG", "MRT", "DOM"]


def test_gap_index_matches_scipy_ranks_on_random_case() -> None:
    rng = np.random.default_rng(7)
    n = 40
    iso = [f"C{i:02d}" for i in range(n)]
    need = pd.DataFrame({"iso3": iso, "level": "pillar", "group_id": "ACCESS",
                         "need": rng.uniform(0, 110, n).round(0)})
    usd = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(0, 1, n))
    support = pd.DataFrame({"iso3": iso, "level": "pillar", "group_id": "ACCESS",
                            "usd_per_capita": usd})
    res = gp.gap_index(need, support)
    need_pct = (rankdata(need["need"]) - 1) / (n - 1)
    supp_pct = (rankdata(usd) - 1) / (n - 1)
    np.testing.assert_allclose(res["gap_index"], 100 * need_pct * (1 - supp_pct), atol=1e-12)
    assert res["gap_index"].between(0, 100).all()


def test_under_shares_count_below_and_well_below_among_graded_verdicts(catalog) -> None:
    prs = [SimpleNamespace(id="infra", pillars=["ACCESS"], sub_pillars=["infrastructure"]),
           SimpleNamespace(id="use", pillars=["ADOPTION"], sub_pillars=[],
                           indicators=["internet_users", "mobile_ownership"])]
    membership = gp.indicator_membership(catalog, prs)
    verdicts = pd.DataFrame({
        "iso3": ["KHM"] * 6,
        "indicator": ["coverage_4g", "coverage_3g", "secure_servers", "internet_users",
                      "mobile_ownership", "electricity_access"],
        "verdict": ["well below", "on par", "below", "above", "no data", "no verdict"],
    })
    out = gp.under_shares(verdicts, membership).set_index(["level", "group_id"])
    assert out.loc[("pillar", "ACCESS"), ["n_benchmarked", "n_under"]].tolist() == [3, 2]
    assert out.loc[("priority", "infra"), ["n_benchmarked", "n_under"]].tolist() == [2, 1]
    # its own indicator list: one graded (above), one without data
    assert out.loc[("priority", "use"), ["n_benchmarked", "under_share"]].tolist() == [1, 0.0]
    assert out.loc[("country", "all"), "n_benchmarked"] == 4
    assert gp.under_shares(None, membership).empty


def test_overall_scores_needs_two_pillars() -> None:
    pillars = pd.DataFrame({"iso3": ["A", "A", "A", "B", "B", "B"],
                            "pillar": ["ACCESS", "ADOPTION", "VALUE_CREATION"] * 2,
                            "score": [30.0, 60.0, np.nan, 50.0, np.nan, np.nan]})
    out = gp.overall_scores(pillars).set_index("iso3")
    assert out.loc["A", "score"] == 45.0
    assert np.isnan(out.loc["B", "score"])


# --------------------------------------------------------------------------- country views
def country_case() -> tuple[pd.DataFrame, pd.DataFrame, list[SimpleNamespace]]:
    pledges = pd.DataFrame([
        pledge("A", countries="KHM", usd=100.0, status="completed",
               end_date=pd.Timestamp("2022-12-31"), stakeholder_group="private_sector"),
        pledge("B", regions="asia_pacific", usd=60.0, status="in_progress",
               end_date=pd.Timestamp("2025-06-30")),
        pledge("C", countries="KHM", usd=np.nan, status="not_reported",
               end_date=pd.Timestamp("2030-01-01"), pillar="trust"),
        pledge("D", countries="KHM", usd=40.0, status="not_reported",
               end_date=pd.Timestamp("2021-01-01"), pillar="trust"),
        pledge("E", countries="MDG", usd=999.0),  # does not reach KHM
        pledge("F", countries="KHM", usd=10.0, focus_area="ACCELERATE",
               pillar="investment"),  # matches no priority
    ])
    # B serves infra by pillar and keyword (3 points) and trust by keyword (1 point).
    labels = pd.DataFrame({
        "pledge_id": ["A", "B", "C", "D", "B", "E"],
        "priority_id": ["infra", "infra", "trust", "trust", "trust", "infra"],
        "by_pillar": [True, True, True, True, False, True],
        "by_keyword": [False, True, False, False, True, False]})
    return pledges, labels, priorities()


def test_label_weights_split_each_pledge_by_match_points() -> None:
    _, labels, _ = country_case()
    w = cl.label_weights(labels).set_index(["pledge_id", "priority_id"])
    assert w.loc[("B", "infra"), "points"] == 3.0 and w.loc[("B", "trust"), "points"] == 1.0
    assert w.loc[("B", "infra"), "weight"] == pytest.approx(0.75)
    assert w.loc[("B", "trust"), "weight"] == pytest.approx(0.25)
    assert w.loc[("A", "infra"), "weight"] == 1.0
    assert w.groupby("pledge_id")["weight"].sum().tolist() == pytest.approx([1.0] * 5)


def test_matrix_totals_and_follow_through_split_pledges_without_double_counting() -> None:
    pledges, labels, prs = country_case()
    alloc = al.allocate_pledges(pledges, countries_frame(), "equal", region_members=members)
    reaching = pg.country_pledges(pledges, alloc, "KHM")
    assert sorted(reaching["pledge_id"]) == ["A", "B", "C", "D", "F"]
    assert reaching.set_index("pledge_id").loc["B", "usd_allocated"] == 30.0  # KHM + LAO

    matrix = pg.priority_pledge_matrix(reaching, labels, prs).set_index("priority_id")
    assert matrix.loc["infra", "pledges"] == 2 and matrix.loc["trust", "pledges"] == 3
    # A 100 + 3/4 of B's 30; trust: 1/4 of B + D 40.
    assert matrix.loc["infra", "usd_allocated"] == pytest.approx(122.5)
    assert matrix.loc["trust", "usd_allocated"] == pytest.approx(47.5)
    assert matrix.loc[pg.UNMATCHED_ROW, "pledges"] == 1
    assert matrix.loc[pg.UNMATCHED_ROW, "usd_allocated"] == 10.0
    assert matrix.loc["trust", "pillar: trust"] == 2
    assert matrix.loc["infra", "stakeholder: private_sector"] == 1
    assert matrix.loc[pg.TOTAL_ROW, "pledges"] == 5  # B is in two rows, counted once
    assert matrix.loc[pg.TOTAL_ROW, "usd_allocated"] == 180.0
    rows = matrix.drop(index=pg.TOTAL_ROW)
    assert rows["usd_allocated"].sum() == pytest.approx(180.0)
    assert pg.priorities_without_pledges(matrix.reset_index()) == ["business", "gov"]

    totals = pg.priority_totals(reaching, labels, prs).set_index("priority_id")
    assert totals.loc["infra", ["pledges", "pledges_shared"]].tolist() == [2, 1]
    assert totals.loc["infra", "usd_split"] == pytest.approx(122.5)
    assert totals.loc["infra", "usd_if_counted_whole"] == pytest.approx(130.0)
    assert totals.loc["trust", "usd_if_counted_whole"] == pytest.approx(70.0)
    parts = totals.drop(index=pg.TOTAL_ROW)
    assert parts["usd_split"].sum() == pytest.approx(totals.loc[pg.TOTAL_ROW, "usd_split"])
    assert totals.loc[pg.TOTAL_ROW, "usd_split"] == 180.0
    assert parts["share_of_total"].sum() == pytest.approx(1.0)

    as_of = date(2024, 1, 1)
    stale = pg.stale_pledges(reaching, as_of)
    assert stale["pledge_id"].tolist() == ["D"]  # A is completed, B and C end later
    follow = pg.follow_through(reaching, labels, prs, as_of).set_index("priority_id")
    assert follow.loc["trust", ["completed", "in_progress", "not_started", "not_reported",
                                "stale"]].tolist() == [0, 1, 0, 2, 1]
    assert follow.loc["trust", "usd_allocated"] == pytest.approx(47.5)
    # Self-reported value: of the valued pledges (A 100, B 30, D 40, F 10), D and F are not
    # reported... F is in progress (default): only D is not reported.
    assert follow.loc[pg.ALL_ROW, "share_value_self_reported"] == pytest.approx(140 / 180)
    # trust: B's quarter (7.5, reported) of 47.5
    assert follow.loc["trust", "share_value_self_reported"] == pytest.approx(7.5 / 47.5)
    assert np.isnan(follow.loc["business", "share_value_self_reported"])


def test_support_by_group_splits_priorities_and_adds_up_to_the_country() -> None:
    pledges, labels, prs = country_case()
    alloc = al.allocate_pledges(pledges, countries_frame(), "equal", region_members=members)
    groups = gp.pledge_groups(pledges, labels)
    index = pd.DataFrame([("priority", p.id) for p in prs] + [("country", "all")],
                         columns=["level", "group_id"])
    support = gp.support_by_group(alloc, groups, POPULATION, ECONOMIES, group_index=index)
    khm = support[support["iso3"] == "KHM"].set_index(["level", "group_id"])
    prio = khm.loc["priority", "pledge_usd"]
    assert prio["infra"] == pytest.approx(122.5) and prio["trust"] == pytest.approx(47.5)
    unmatched = 10.0  # F
    assert prio.sum() + unmatched == pytest.approx(khm.loc[("country", "all"), "pledge_usd"])
    assert khm.loc[("priority", "trust"), "pledge_count"] == 3  # counts stay whole


def test_support_floor_and_ranking_among_peers() -> None:
    iso = ["A", "B", "C", "D", "E", "F"]
    need = pd.DataFrame({"iso3": iso, "level": "country", "group_id": "all",
                         "need": [90.0, 80.0, 70.0, 20.0, 10.0, 50.0]})
    # Everyone receives almost nothing but C: B's USD 0.04 per person ranks high, not enough.
    support = pd.DataFrame({"iso3": iso, "level": "country", "group_id": "all",
                            "usd_per_capita": [0.0, 0.04, 5.0, 0.0, 0.0, 0.01]})
    world = gp.gap_index(need, support).set_index("iso3")
    assert world.loc["B", "support_pct"] >= 2 / 3  # top third by rank...
    assert bool(world.loc["B", "below_floor"]) and world.loc["B", "support_class"] == "low"
    assert world.loc["B", "flag"] == gp.FLAG_HIGH_NEED_THIN  # ...but under the floor
    assert world.loc["C", "support_class"] == "high" and not world.loc["C", "below_floor"]
    no_floor = gp.gap_index(need, support, floor=0.0).set_index("iso3")
    assert no_floor.loc["B", "support_class"] == "high"
    # Among peers A, B, D only: ranks and percentiles over three economies.
    peers = gp.rank_among(world.reset_index(), ["A", "B", "D"]).set_index("iso3")
    assert sorted(peers.index) == ["A", "B", "D"] and (peers["n_ranked"] == 3).all()
    assert peers["need_rank"].to_dict() == {"A": 1, "B": 2, "D": 3}
    assert peers.loc["B", "support_pct"] == 1.0  # the most supported of the three
    assert peers.loc["A", "gap_index"] == pytest.approx(100 * 1.0 * (1 - 0.25))


# --------------------------------------------------------------------------- report helpers
def test_status_date_reads_the_snapshot_and_never_passes_today(tmp_path) -> None:
    import json

    from p2c_research.reports.pledge_report import status_date
    from p2c_research.store import provenance_path

    path = tmp_path / "pledges.parquet"
    selection = SimpleNamespace(pledges_path=path)
    today = date(2025, 3, 15)
    assert status_date(selection, today)[0] == today  # no provenance at all
    provenance_path(path).write_text(json.dumps({"parameters": {"snapshot": "2023-12"}}))
    assert status_date(selection, today) == (
        date(2023, 12, 31), "the status snapshot of the pledge file (2023-12)")
    provenance_path(path).write_text(json.dumps({"retrieved_at": "2026-01-02T10:00:00+00:00"}))
    assert status_date(selection, today)[0] == today


def test_html_table_escapes_untrusted_text() -> None:
    from p2c_research.reports.pledge_tables import html_table

    frame = pd.DataFrame({"entity": ["<b>x</b>"], "description": ["<script>alert(1)</script>"],
                          "rank": pd.array([pd.NA], dtype="Int64")})
    text = html_table(frame, caption="<i>c</i>")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "&lt;i&gt;c&lt;/i&gt;" in text
    assert "&lt;NA&gt;" not in text


@pytest.mark.slow  # builds reports
def test_report_world_gaps_are_shared_between_countries_and_equal_a_fresh_build(tmp_path) -> None:
    from p2c_research.context import open_context
    from p2c_research.reports import pledge_report as pr
    from p2c_research.reports import pledge_world as pw

    pw._world_gaps_memo.clear()
    ken = pr.build(open_context("KEN", "", "sample", tmp_path))
    ken.world["need"] = -1.0  # a caller editing its copy must not reach the memo
    per = pr.build(open_context("PER", "", "sample", tmp_path))
    assert len(pw._world_gaps_memo) == 1  # same default priorities: one world computation
    assert (per.world["need"].dropna() >= 0).all()
    pw._world_gaps_memo.clear()
    fresh = pr.build(open_context("PER", "", "sample", tmp_path))
    pd.testing.assert_frame_equal(per.world.reset_index(drop=True),
                                  fresh.world.reset_index(drop=True))
    pd.testing.assert_frame_equal(per.tables.pledge_gaps, fresh.tables.pledge_gaps)
