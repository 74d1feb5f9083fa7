"""Precision and recall of the keyword classifier on the labelled pledge texts.

``tests/fixtures/pledge_texts.csv`` holds pledge texts written from the P2C
focus-area descriptions, each with the pillars (ACCESS, ADOPTION,
VALUE_CREATION) and the Cambodia DESPF priorities a reader would give it,
including hard cases (a "trust fund" for school meals, health-insurance
"coverage", textile "SMEs"). The texts carry no declared pillar, so only the
keywords decide: this measures the part of the classification that reads text.

Pillars are scored with the generic priorities of ``params/defaults.yaml`` (one
per pillar), priorities with ``params/KHM.yaml``. Prints one table per scheme,
then the texts the classifier got wrong with ``--errors``.

    python benchmarks/classifier.py [--errors]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from p2c_research.analyses.classification import classify_pledges, evaluate_labels  # noqa: E402
from p2c_research.params import Priorities, default_params_path, load_params  # noqa: E402
from p2c_research.yamlio import parse_yaml  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "pledge_texts.csv"
PILLARS = ("ACCESS", "ADOPTION", "VALUE_CREATION")


def _tokens(cell: object) -> set[str]:
    return {t for t in str(cell).split(";") if t and t != "nan"}


def load_texts(path: Path = FIXTURE) -> pd.DataFrame:
    """The labelled texts: ``id, text, pillars, khm_priorities, note``."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def as_pledges(texts: pd.DataFrame) -> pd.DataFrame:
    """The texts as pledges with no declared focus area or pillar (keywords only)."""
    return pd.DataFrame({"pledge_id": texts["id"], "entity": "", "description": texts["text"],
                         "focus_area": "", "pillar": ""})


def run(texts: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, dict, dict]]:
    """Scores per pillar (generic priorities) and per KHM priority, with the label sets."""
    defaults = Priorities.model_validate(
        parse_yaml(default_params_path().read_text())["strategic_priorities"]).items
    khm = load_params("KHM").strategic_priorities.items
    pledges = as_pledges(texts)
    out = {}
    pillar_of = {p.id: p.pillars[0] for p in defaults}
    labels = classify_pledges(pledges, defaults)
    predicted = {i: {pillar_of[p] for p in g["priority_id"]}
                 for i, g in labels.groupby("pledge_id")}
    expected = {i: _tokens(v) for i, v in zip(texts["id"], texts["pillars"], strict=True)}
    out["pillar"] = (evaluate_labels(expected, predicted, PILLARS), expected, predicted)
    labels = classify_pledges(pledges, khm)
    predicted = {i: set(g["priority_id"]) for i, g in labels.groupby("pledge_id")}
    expected = {i: _tokens(v) for i, v in zip(texts["id"], texts["khm_priorities"], strict=True)}
    out["KHM priority"] = (evaluate_labels(expected, predicted, [p.id for p in khm]), expected,
                           predicted)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list the misclassified texts")
    args = parser.parse_args()
    texts = load_texts()
    print(f"{len(texts)} labelled pledge texts ({FIXTURE.relative_to(ROOT)}); keywords only\n")
    for scheme, (scores, expected, predicted) in run(texts).items():
        shown = scores.copy()
        for col in ("precision", "recall", "f1"):
            shown[col] = shown[col].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2f}")
        print(f"By {scheme}:")
        print(shown.to_string(index=False))
        print()
        if args.errors:
            text = texts.set_index("id")["text"]
            for i, want in expected.items():
                got = predicted.get(i, set())
                if got != want:
                    print(f"  {i}: expected {sorted(want)}, got {sorted(got)}: {text[i]}")
            print()


if __name__ == "__main__":
    main()
