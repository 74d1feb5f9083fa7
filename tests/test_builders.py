"""The builders' skeleton: load -> process -> check -> save, nothing written on a failed check."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from p2c_research.builders import Builder
from p2c_research.errors import DataError
from p2c_research.store import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Words(Builder[str, str]):
    name: ClassVar[str] = "words"
    source: Path
    out: Path
    calls: list[str]

    def load(self) -> str:
        self.calls.append("load")
        return self.source.read_text()

    def process(self, loaded: str) -> str:
        self.calls.append("process")
        return loaded.upper()

    def check(self, result: str) -> list[str]:
        self.calls.append("check")
        if "BAD" in result:
            raise DataError(f"{self.source}: holds 'bad'; remove it")
        return [f"{len(result.split())} words"]

    def save(self, result: str) -> dict[str, Path]:
        self.calls.append("save")
        return {"words": atomic_write_text(self.out, result)}


def test_steps_run_in_order_and_report_what_was_written(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("two words")
    calls: list[str] = []
    built = _Words(source, tmp_path / "out.txt", calls).run()
    assert calls == ["load", "process", "check", "save"]
    assert (tmp_path / "out.txt").read_text() == "TWO WORDS"
    assert built.result == "TWO WORDS" and built.notes == ["2 words"]
    assert "words: " + str(tmp_path / "out.txt") in built.summary()


def test_a_failed_check_writes_nothing_and_keeps_the_previous_file(tmp_path: Path) -> None:
    source, out = tmp_path / "in.txt", tmp_path / "out.txt"
    out.write_text("previous")
    source.write_text("a bad line")
    calls: list[str] = []
    with pytest.raises(DataError, match=r"in\.txt: holds 'bad'"):
        _Words(source, out, calls).run()
    assert calls == ["load", "process", "check"]
    assert out.read_text() == "previous"


def test_every_builder_of_committed_files_uses_the_skeleton() -> None:
    """The sample, country reference, ITU-D regions, synthetic pledges and docs builders
    are Builder subclasses, and no module of the package parses its own command line."""
    from p2c_research.countries_build import CountryReferenceBuilder
    from p2c_research.docs import IndicatorDocsBuilder
    from p2c_research.pledges.synthetic import SyntheticPledgesBuilder
    from p2c_research.regions_build import RegionsFromCsv, RegionsFromDataHub
    from p2c_research.sample import SampleBuilder

    for builder in (CountryReferenceBuilder, IndicatorDocsBuilder, RegionsFromCsv,
                    RegionsFromDataHub, SampleBuilder, SyntheticPledgesBuilder):
        assert issubclass(builder, Builder), builder
    parsers = []
    for path in sorted((ROOT / "p2c_research").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if "argparse" in names:
                    parsers.append(str(path.relative_to(ROOT)))
    assert parsers == [], "build commands are invoke tasks in tasks.py"


def test_calibration_targets_come_from_the_resource_file(tmp_path: Path, monkeypatch) -> None:
    """The synthetic set's targets are the published figures of the resource file; a file
    missing a figure stops the build with the file and the fix."""
    from p2c_research import config
    from p2c_research.pledges import synthetic
    from p2c_research.yamlio import parse_yaml

    published = parse_yaml((config.RESOURCES_DIR / synthetic.CALIBRATION_FILE).read_text())
    entry = published["snapshots"]["2023-12"]
    targets = synthetic.calibration_targets("2023-12")
    assert targets.pledges == entry["pledges"] == 845
    assert targets.usd_total == 36.78e9 and targets.private_sector == (144, 24.46e9)
    assert "ITU" in synthetic.calibration_provenance()["producer"]

    broken = tmp_path / synthetic.CALIBRATION_FILE
    broken.write_text("snapshots:\n  '2023-12':\n    source: x\n    pledges: 845\n")
    monkeypatch.setattr(config, "RESOURCES_DIR", tmp_path)
    synthetic._calibration_file.cache_clear()
    try:
        with pytest.raises(DataError, match=r"pledge_calibration.yaml: snapshot '2023-12' is "
                                            r"missing or mistypes 'usd_total'"):
            synthetic.calibration_targets("2023-12")
    finally:
        synthetic._calibration_file.cache_clear()
