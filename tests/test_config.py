"""Configuration: files, environment, sources and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.config import Config, env_name, find_project_root, load_config, settings_table
from codewitness.errors import ConfigError


def project(tmp_path: Path, pyproject: str | None = None, own: str | None = None) -> Path:
    (tmp_path / ".git").mkdir()
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    if own is not None:
        (tmp_path / "codewitness.toml").write_text(own)
    return tmp_path


def test_defaults_put_the_store_under_the_project_root(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src" / "pkg").mkdir(parents=True)
    loaded = load_config(root / "src" / "pkg", environ={})
    assert loaded.root == root.resolve()
    assert loaded.database_url == f"sqlite:///{root.resolve()}/.codewitness/witness.db"
    assert loaded.sources["database"] == "default"
    assert loaded.files == ()


def test_priority_is_env_over_codewitness_toml_over_pyproject(tmp_path: Path) -> None:
    root = project(tmp_path, '[tool.codewitness]\ndatabase = "sqlite:////a.db"\n', 'database = "sqlite:////b.db"\n')
    assert load_config(root, environ={}).config.database == "sqlite:////b.db"
    assert load_config(root, environ={}).sources["database"] == "codewitness.toml"
    env = load_config(root, environ={"CODEWITNESS_DATABASE": "sqlite:////c.db"})
    assert (env.config.database, env.sources["database"]) == ("sqlite:////c.db", "env CODEWITNESS_DATABASE")
    alias = load_config(root, environ={"CODEWITNESS_DB": "sqlite:////d.db"})
    assert (alias.config.database, alias.sources["database"]) == ("sqlite:////d.db", "env CODEWITNESS_DB")


def test_pyproject_without_our_table_is_ignored(tmp_path: Path) -> None:
    root = project(tmp_path, '[project]\nname = "x"\n')
    assert load_config(root, environ={}).files == ()


@pytest.mark.parametrize(
    ("pyproject", "own", "env", "message"),
    [
        ('[tool.codewitness]\ndatabse = "x"\n', None, {}, "pyproject.toml: unknown setting 'databse'"),
        (None, "database = 3\n", {}, "codewitness.toml: 'database' must be a string"),
        (None, "database = [\n", {}, "not valid TOML"),
        ("[tool]\ncodewitness = 5\n", None, {}, "must be a table"),
        (None, None, {"CODEWITNESS_NOPE": "1"}, "unknown environment variable CODEWITNESS_NOPE"),
    ],
)
def test_mistakes_are_one_line_config_errors(
    tmp_path: Path, pyproject: str | None, own: str | None, env: dict[str, str], message: str
) -> None:
    root = project(tmp_path, pyproject, own)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(root, environ=env)
    assert "\n" not in str(info.value)


def test_every_setting_is_documented_and_has_an_env_name() -> None:
    for key, _value, meaning in settings_table(Config()):
        assert meaning.strip(), f"setting {key} has no help text"
        assert env_name(key).startswith("CODEWITNESS_")


def test_root_falls_back_to_pyproject_then_start(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a").mkdir()
    assert find_project_root(tmp_path / "a") == tmp_path.resolve()


# -- lists from the environment --------------------------------------------------------------

_LIST_ITEMS = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(lambda s: s.strip()),
    max_size=5,
)


@given(items=_LIST_ITEMS)
def test_a_json_array_in_a_list_variable_is_its_items(items: list[str]) -> None:
    # Before: the text was split at commas, so '["a", "b"]' became '["a"' and '"b"]'.
    loaded = load_config(Path("/nonexistent-cw"), environ={"CODEWITNESS_SENSOR_INCLUDE": json.dumps(items)})
    assert loaded.config.sensor.include == tuple(items)
    assert loaded.sources["sensor.include"] == "env CODEWITNESS_SENSOR_INCLUDE"


@given(items=st.lists(st.from_regex(r"[a-z_.*]{1,10}", fullmatch=True), min_size=1, max_size=5))
def test_a_comma_list_in_a_list_variable_is_its_items(items: list[str]) -> None:
    loaded = load_config(Path("/nonexistent-cw"), environ={"CODEWITNESS_SENSOR_EXCLUDE": " , ".join(items)})
    assert loaded.config.sensor.exclude == tuple(items)


def test_a_regular_expression_with_a_comma_travels_in_a_json_array() -> None:
    loaded = load_config(Path("/nonexistent-cw"), environ={"CODEWITNESS_SENSOR_REDACT_PATTERNS": '["\\\\d{3,4}"]'})
    assert loaded.config.sensor.redact_patterns == ("\\d{3,4}",)


@pytest.mark.parametrize(
    "text", ['["a", "b"', '["a", 3]', "[a, b]", '{"a": 1}', '"a,b"', "[0-9]{16}", "'a'", "[]x"]
)
def test_anything_else_in_a_list_variable_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="CODEWITNESS_CHECK_DISABLE") as info:
        load_config(Path("/nonexistent-cw"), environ={"CODEWITNESS_CHECK_DISABLE": text})
    assert "\n" not in str(info.value)
