"""Parameters: merging, validation and the error messages the analyst sees."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from p2c_research.errors import ParamsError, UnknownCountryError
from p2c_research.params import check_all, load_params, resolve_peer_sets


@pytest.fixture
def params_copy(tmp_path, project_root):
    folder = tmp_path / "params"
    shutil.copytree(project_root / "params", folder)
    return folder


def test_shipped_params_are_valid():
    assert check_all() == []


def test_country_overrides_defaults_and_keeps_the_rest():
    khm = load_params("KHM")
    assert khm.country == "KHM"
    assert [p.id for p in khm.strategic_priorities.items] == [
        "digital_infrastructure", "digital_trust", "digital_citizens", "digital_government",
        "digital_business"]
    assert khm.strategic_priorities.provisional is False
    assert khm.analysis.peer_min_n == 15  # from defaults
    for code in ("MDG", "DOM", "MRT"):
        assert load_params(code).strategic_priorities.provisional is True


def test_country_without_yaml_runs_on_generic_priorities():
    tuv = load_params("TUV")
    assert tuv.strategic_priorities.provisional is True
    assert [p.pillars for p in tuv.strategic_priorities.items] == [
        ["ACCESS"], ["ADOPTION"], ["VALUE_CREATION"]]


def test_misspelt_key_names_file_path_and_closest_key(params_copy):
    (params_copy / "KHM.yaml").write_text("country: KHM\npeer_groups:\n  incme_group: false\n")
    with pytest.raises(ParamsError) as err:
        load_params("KHM", directory=params_copy)
    msg = str(err.value)
    assert str(params_copy / "KHM.yaml") in msg
    assert "peer_groups.incme_group" in msg
    assert "did you mean 'income_group'" in msg


def test_wrong_type_and_out_of_range_name_key_and_expectation(params_copy):
    (params_copy / "MDG.yaml").write_text(
        "country: MDG\nreference_year: soon\nanalysis:\n  coverage_threshold: 1.5\n")
    with pytest.raises(ParamsError) as err:
        load_params("MDG", directory=params_copy)
    msg = str(err.value)
    assert "MDG.yaml: key 'reference_year'" in msg and "valid integer" in msg
    assert "key 'analysis.coverage_threshold'" in msg and "less than or equal to 1" in msg


def test_malformed_yaml_names_line(params_copy):
    (params_copy / "DOM.yaml").write_text("country: DOM\nanalysis: {coverage_threshold: 0.3\n")
    with pytest.raises(ParamsError, match=r"DOM\.yaml: not valid YAML at line \d+"):
        load_params("DOM", directory=params_copy)


def test_unknown_country_code_with_close_matches():
    with pytest.raises(UnknownCountryError, match=r"^unknown country code 'KHN'.*KHM \(Cambodia\)"):
        load_params("KHN")


def test_unknown_indicator_in_targets(params_copy):
    (params_copy / "KHM.yaml").write_text(
        "country: KHM\nnational_targets:\n  - {indicator: internet_user, value: 90, year: 2030,"
        " source: x}\n")
    with pytest.raises(ParamsError, match="did you mean internet_users"):
        load_params("KHM", directory=params_copy)


def test_peer_sets_exclude_the_country_and_label_the_classification():
    sets = resolve_peer_sets(load_params("MRT"))
    assert next(iter(sets)) == "Arab States (ITU-D region)"  # the headline set comes first
    assert "Sub-Saharan Africa (World Bank region)" in sets
    assert "LDC (UN)" in sets
    assert all("MRT" not in members for members in sets.values())
    assert "MAR" in sets["Arab States (ITU-D region)"]


def test_fingerprint_changes_with_params(params_copy):
    a = load_params("KHM", directory=params_copy).fingerprint()
    (params_copy / "KHM.yaml").write_text("country: KHM\nreference_year: 2022\n")
    b = load_params("KHM", directory=params_copy).fingerprint()
    assert a != b


@pytest.mark.slow  # a subprocess
def test_invoke_params_check_fails_on_misspelt_key(params_copy, project_root):
    (params_copy / "KHM.yaml").write_text("country: KHM\nrefrence_year: 2022\n")
    res = subprocess.run([sys.executable, "-m", "invoke", "params.check", "--folder",
                          str(params_copy)], cwd=project_root, capture_output=True, text=True)
    assert res.returncode != 0
    assert "unknown key 'refrence_year'; did you mean 'reference_year'?" in res.stderr
    ok = subprocess.run([sys.executable, "-m", "invoke", "params.check"], cwd=project_root,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_libyaml_parses_every_shipped_yaml_like_pyyaml():
    """The fast loader must read our files exactly as ``yaml.safe_load`` does."""
    import yaml

    from p2c_research.config import RESOURCES_DIR, params_dir
    from p2c_research.yamlio import _LOADER, parse_yaml

    if yaml.__with_libyaml__:
        assert _LOADER is yaml.CSafeLoader
    files = [*sorted(params_dir().glob("*.yaml")), RESOURCES_DIR / "catalog.yaml"]
    assert len(files) >= 6
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert parse_yaml(text) == yaml.safe_load(text), path
