"""Packaging and hygiene: the front door works and the repository stays clean."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~ \[]", r.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements if r.strip()}


def test_environment_yml_lists_the_same_packages_as_pyproject(project_root):
    project = tomllib.loads((project_root / "pyproject.toml").read_text())["project"]
    py = _names(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((project_root / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_part = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_part
    assert "conda-forge" in env["channels"]
    assert _names(conda) - {"python", "pip"} == py


def test_invoke_lists_every_contract_task_with_help(project_root):
    res = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=project_root,
                         capture_output=True, text=True, check=True)
    listed = {}
    for line in res.stdout.splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2 and not line.startswith("Available"):
            listed[parts[0]] = parts[1]
    for name in ("run", "batch", "lab", "test", "data.sample", "data.fetch", "data.build",
                 "data.diff", "params.check", "docs.indicators"):
        assert name in listed, name
        assert len(listed[name]) > 10, f"{name} has no help string"
    helptext = subprocess.run([sys.executable, "-m", "invoke", "--help", "batch"],
                              cwd=project_root, capture_output=True, text=True, check=True).stdout
    for flag in ("--countries", "--all", "--workers", "--scheduler", "--out", "--resume"):
        assert flag in helptext


NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
REPORT_PARAMETERS = {"country", "params_file", "data", "out_dir"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_thin_stripped_and_parameterised(path):
    """The one thinness check for every notebook: no outputs or execution counts (nbstripout),
    short cells without loops (the logic lives in the package), and a report notebook's
    parameters cell holds literals only (papermill's convention; derived values come later)."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = [ln for ln in source.splitlines()
                 if ln.strip() and not ln.startswith(("import ", "from "))]
        assert not cell.get("outputs"), f"{path.name} has outputs: run nbstripout"
        assert cell.get("execution_count") is None, f"{path.name} has execution counts"
        assert len(lines) <= 5, f"{path.name}: a cell of {len(lines)} lines belongs in the package"
        assert not any(re.match(r"\s*(for|while) ", ln) for ln in lines), \
            f"{path.name}: loops belong in the package"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    if path.name.startswith(("01_", "02_", "03_")):
        assert len(tagged) == 1
        tree = ast.parse("".join(tagged[0]["source"]))
        values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
        assert set(values) == REPORT_PARAMETERS
    for cell in tagged:
        tree = ast.parse("".join(cell["source"]))
        for node in tree.body:  # literals only: a derived value here is papermill's classic bug
            assert isinstance(node, ast.Assign)
            ast.literal_eval(node.value)


def test_readme_quick_start_has_exactly_two_commands(project_root):
    readme = (project_root / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S).group(1)
    commands = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2
    ci = (project_root / ".ci" / "run").read_text()
    assert commands[1].strip() in ci


def test_outputs_and_caches_are_git_ignored(project_root):
    ignored = (project_root / ".gitignore").read_text().split()
    for entry in ("outputs/", "data/raw/", "data/processed/"):
        assert entry in ignored
