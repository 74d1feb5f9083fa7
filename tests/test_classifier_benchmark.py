"""The labelled pledge texts, the precision/recall arithmetic and the figures the docs state."""

from __future__ import annotations

import importlib.util
import re

import pandas as pd
import pytest

from p2c_research.analyses.classification import MICRO, evaluate_labels
from p2c_research.params import load_params


@pytest.fixture(scope="module")
def bench(project_root):
    spec = importlib.util.spec_from_file_location("classifier_bench",
                                                  project_root / "benchmarks" / "classifier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_precision_recall_by_hand() -> None:
    expected = {"a": {"X"}, "b": {"X", "Y"}, "c": set(), "d": {"Y"}}
    predicted = {"a": {"X"}, "b": {"Y"}, "c": {"X"}}  # d: nothing predicted
    out = evaluate_labels(expected, predicted, ["X", "Y"]).set_index("label")
    # X: tp a, fp c, fn b -> P 1/2, R 1/2.  Y: tp b, fn d -> P 1, R 1/2.
    assert out.loc["X", ["true_pos", "false_pos", "false_neg", "support"]].tolist() == [1, 1, 1, 2]
    assert out.loc["X", "precision"] == 0.5 and out.loc["X", "recall"] == 0.5
    assert out.loc["Y", "precision"] == 1.0 and out.loc["Y", "recall"] == 0.5
    assert out.loc[MICRO, "precision"] == pytest.approx(2 / 3)
    assert out.loc[MICRO, "recall"] == pytest.approx(2 / 4)
    assert out.loc["Y", "f1"] == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    empty = evaluate_labels({"a": set()}, {}, ["X"]).set_index("label")
    assert pd.isna(empty.loc["X", "precision"]) and pd.isna(empty.loc["X", "recall"])


def test_labelled_set_is_large_valid_and_has_hard_cases(bench) -> None:
    texts = bench.load_texts()
    assert len(texts) >= 100 and texts["id"].is_unique and texts["text"].str.len().min() > 20
    khm = {p.id for p in load_params("KHM").strategic_priorities.items}
    for pillars, prios in zip(texts["pillars"], texts["khm_priorities"], strict=True):
        assert bench._tokens(pillars) <= set(bench.PILLARS)
        assert bench._tokens(prios) <= khm
    assert (texts["pillars"] == "").sum() >= 10  # texts that serve no pillar
    assert (texts["pillars"].str.contains(";")).sum() >= 10  # several pillars
    for pillar in bench.PILLARS:
        assert texts["pillars"].str.contains(pillar).sum() >= 25


def test_docs_state_the_figures_the_benchmark_prints(bench, project_root) -> None:
    results = bench.run(bench.load_texts())
    doc = (project_root / "docs" / "pledges.md").read_text(encoding="utf-8")
    for scheme, (scores, _, _) in results.items():
        for row in scores.itertuples():
            line = re.search(rf"^\| {re.escape(scheme)} \| {re.escape(row.label)} \|.*$", doc,
                             flags=re.M)
            assert line, f"docs/pledges.md lacks the {scheme} row of {row.label}"
            assert f"| {row.precision:.2f} | {row.recall:.2f} |" in line.group(0), line.group(0)
