"""Packaging and hygiene: the front door works and the repository stays clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

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


def test_committed_notebooks_carry_no_outputs(project_root):
    notebooks = sorted((project_root / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name} has outputs: run nbstripout"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"


def test_report_notebooks_have_a_literal_parameters_cell(project_root):
    import papermill

    for path in sorted((project_root / "notebooks").glob("0[1-3]_*.ipynb")):
        declared = papermill.inspect_notebook(str(path))
        assert {"country", "params_file", "data", "out_dir"} <= set(declared), path.name


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
