"""Configuration: files, environment, sources and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

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
