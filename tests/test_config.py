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


# -- every value type, bound and choice, from a file and from the environment ----------------------
# Issue 25: `true` was accepted where a whole number is expected, and most of the checks below had
# no test at all (a measured mutation score of 62% on config.py).


def own_file(tmp_path: Path, text: str) -> Path:
    return project(tmp_path, own=text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # `true` is an int to Python; for a setting it is a mistake (issue 25 survivor config.py).
        ("[capture]\nmax_file_bytes = true\n", "'capture.max_file_bytes' must be a whole number, got True"),
        ("[capture]\nmax_file_bytes = 1.5\n", "'capture.max_file_bytes' must be a whole number, got 1.5"),
        ("[capture]\nmax_file_bytes = '10'\n", "'capture.max_file_bytes' must be a whole number, got '10'"),
        ("[capture]\ncontext = 1\n", "'capture.context' must be true or false, got 1"),
        ("[capture]\ncontext = 'yes'\n", "'capture.context' must be true or false, got 'yes'"),
        ("[sensor]\ninterval = false\n", "'sensor.interval' must be a number, got False"),
        ("[sensor]\ninterval = '5'\n", "'sensor.interval' must be a number, got '5'"),
        ("[sensor]\nservice = 5\n", "'sensor.service' must be a string, got 5"),
        ("[sensor]\ninclude = ['a', 3]\n", "'sensor.include' must be a list of strings"),
        ("[sensor]\ninclude = 3\n", "'sensor.include' must be a list of strings"),
        ("[capture]\nmax_file_bytes = 0\n", "'capture.max_file_bytes' must be at least 1; got 0"),
        ("[sensor]\ninterval = 0.01\n", "'sensor.interval' must be at least 0.05; got 0.01"),
        ("[check]\nfail_on = 'loud'\n", "'check.fail_on' must be one of info, low, medium, high, never; got 'loud'"),
        (
            "[[invariants]]\nfunction = 'a:b'\nmode = 'loud'\n",
            "'invariants[0].mode' must be one of \"\", record, warn, raise; got 'loud'",
        ),
        ("[[review]]\nfunction = 'a:b'\nrate = 1.5\n", "'review[0].rate' must be at most 1.0; got 1.5"),
        ("[[review]]\nfunction = 'a:b'\nrate = -0.1\n", "'review[0].rate' must be at least 0.0; got -0.1"),
        ("invariants = 5\n", "'invariants' must be an array of tables ([[...]])"),
        ("invariants = [5]\n", "'invariants' must be an array of tables ([[...]])"),
        ("[[review]]\nfunction = 'a:b'\n[[review]]\nfunktion = 'c'\n", "unknown setting 'review[1].funktion'"),
        ("sensor = 5\n", "'sensor' must be a table"),
        ("[capture]\ncontext_since = 'soon'\n", "capture.context_since: 'soon' is not an age such as 24h, 7d or 2w"),
        ("[capture]\nagents = ['vim', 'claude', 'ed']\n", "unknown agent ed, vim; choose from claude, cursor, codex"),
        (
            "[sensor]\nrequest_parts = ['method', 'cookies', 'body']\n",
            "sensor.request_parts: unknown body, cookies; choose from method, route, path_params, path, query, headers",
        ),
    ],
)
def test_every_kind_of_bad_value_is_named_with_its_file(tmp_path: Path, text: str, message: str) -> None:
    root = own_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(root, environ={})
    assert message in str(info.value)
    if "choose from" not in message and "is not an age" not in message:
        assert str(info.value).startswith("codewitness.toml: ")


def test_an_unknown_key_in_a_section_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    root = own_file(tmp_path / "a", "[review]\n")
    with pytest.raises(ConfigError, match=r"'review' must be an array of tables"):
        load_config(root, environ={})
    root = own_file(tmp_path / "b", "[capture]\nbogus = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(root, environ={})
    assert str(info.value) == (
        "codewitness.toml: unknown setting 'capture.bogus' "
        "(known here: agents, commit_trailer, context, context_chars, context_since, max_file_bytes, push_notes)"
    )


def test_good_values_of_every_type_are_kept_as_given(tmp_path: Path) -> None:
    root = own_file(
        tmp_path,
        "[capture]\nmax_file_bytes = 1\ncontext = false\ncontext_since = ' 2 w '\nagents = ['codex']\n"
        "[sensor]\ninterval = 1\ninclude = 'app.*'\nservice = 'shop'\n"
        "[check]\nfail_on = 'never'\n"
        "[[invariants]]\nfunction = 'shop.pay:charge'\nensure = 'result > 0'\nmode = ''\n"
        "[[invariants]]\nfunction = 'shop.*'\nrequire = 'amount >= 0'\nname = 'non-negative'\nmode = 'raise'\n"
        "[[review]]\nfunction = 'shop.*'\nrate = 1.0\n"
        "[[review]]\nfunction = 'a:b'\nrate = 0\n",
    )
    loaded = load_config(root, environ={})
    config = loaded.config
    assert config.capture.max_file_bytes == 1  # the minimum itself is allowed
    assert config.capture.context is False
    assert config.capture.context_since == " 2 w "
    assert config.capture.agents == ("codex",)
    assert config.sensor.interval == 1.0 and isinstance(config.sensor.interval, float)
    assert config.sensor.include == ("app.*",)  # one string is a list of one
    assert config.sensor.service == "shop"
    assert config.check.fail_on == "never"
    assert [(r.function, r.ensure, r.require, r.name, r.mode) for r in config.invariants] == [
        ("shop.pay:charge", "result > 0", "", "", ""),
        ("shop.*", "", "amount >= 0", "non-negative", "raise"),
    ]
    assert [(r.function, r.rate) for r in config.review] == [("shop.*", 1.0), ("a:b", 0.0)]
    assert loaded.sources["capture.max_file_bytes"] == "codewitness.toml"
    assert loaded.sources["invariants"] == "codewitness.toml"
    assert loaded.sources["sensor.spool_dir"] == "default"
    assert loaded.files == (root.resolve() / "codewitness.toml",)


def test_both_files_are_read_and_listed_in_order(tmp_path: Path) -> None:
    root = project(tmp_path, "[tool.codewitness.sensor]\nservice = 'a'\n", "[capture]\nmax_file_bytes = 7\n")
    loaded = load_config(root, environ={})
    assert loaded.files == (root.resolve() / "pyproject.toml", root.resolve() / "codewitness.toml")
    assert (loaded.config.sensor.service, loaded.config.capture.max_file_bytes) == ("a", 7)
    assert loaded.sources["sensor.service"] == "pyproject.toml"
    assert loaded.sources["capture.max_file_bytes"] == "codewitness.toml"


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " yes ", "On"])
def test_environment_truths(tmp_path: Path, text: str) -> None:
    loaded = load_config(project(tmp_path), environ={"CODEWITNESS_SENSOR_OTEL": text})
    assert loaded.config.sensor.otel is True


@pytest.mark.parametrize("text", ["0", "false", "FALSE", " no", "OFF", ""])
def test_environment_falsehoods(tmp_path: Path, text: str) -> None:
    loaded = load_config(project(tmp_path), environ={"CODEWITNESS_CAPTURE_CONTEXT": text})
    assert loaded.config.capture.context is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CODEWITNESS_SENSOR_OTEL": "maybe"}, "env CODEWITNESS_SENSOR_OTEL: expected true/false, got 'maybe'"),
        ({"CODEWITNESS_SENSOR_INTERVAL": "fast"}, "env CODEWITNESS_SENSOR_INTERVAL: expected a number, got 'fast'"),
        ({"CODEWITNESS_CAPTURE_MAX_FILE_BYTES": "1.5"}, "expected a number, got '1.5'"),
        (
            {"CODEWITNESS_CAPTURE_MAX_FILE_BYTES": "0"},
            "env CODEWITNESS_CAPTURE_MAX_FILE_BYTES: 'capture.max_file_bytes' must be at least 1; got 0",
        ),
        ({"CODEWITNESS_INVARIANTS": "x"}, "env CODEWITNESS_INVARIANTS: a list of tables cannot be set"),
        (
            {"CODEWITNESS_SENSOR": "x"},
            "unknown environment variable CODEWITNESS_SENSOR; `codewitness config` lists the settings "
            "(set CODEWITNESS_<SECTION>_<KEY>)",
        ),
        ({"CODEWITNESS_CHECK_FAIL_ON": "loud"}, "env CODEWITNESS_CHECK_FAIL_ON: 'check.fail_on' must be one of"),
    ],
)
def test_environment_mistakes(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(project(tmp_path), environ=env)
    assert message in str(info.value)


def test_environment_values_of_every_type(tmp_path: Path) -> None:
    root = project(tmp_path, own="[sensor]\nservice = 'from-file'\n")
    env = {
        "CODEWITNESS_SENSOR_SERVICE": "shop",
        "CODEWITNESS_SENSOR_INTERVAL": "0.5",
        "CODEWITNESS_SENSOR_QUEUE_SIZE": "12",
        "CODEWITNESS_SENSOR_INCLUDE": " a.* , b.c,, ",
        "CODEWITNESS_CHECK_HIGH_ON_AI": "",
        # Not settings: other programs' variables, and our own reserved ones.
        "HOME": "/nowhere",
        "CODEWITNESS_TOKEN": "secret",
        "CODEWITNESS_HOOK_LOG": "/tmp/log",
        "XCODEWITNESS_SENSOR_SERVICE": "x",
    }
    loaded = load_config(root, environ=env)
    sensor = loaded.config.sensor
    assert (sensor.service, sensor.interval, sensor.queue_size) == ("shop", 0.5, 12)
    assert isinstance(sensor.queue_size, int) and isinstance(sensor.interval, float)
    assert sensor.include == ("a.*", "b.c")
    assert loaded.config.check.high_on_ai == ()
    assert loaded.sources["sensor.service"] == "env CODEWITNESS_SENSOR_SERVICE"
    assert loaded.sources["sensor.include"] == "env CODEWITNESS_SENSOR_INCLUDE"
    assert loaded.sources["sensor.exclude"] == "default"
    # A variable that sorts before the settings does not stop the reading of the others.
    loaded = load_config(root, environ={"AAA": "1", "CODEWITNESS_SENSOR_SERVICE": "b", "ZZZ": "2"})
    assert loaded.config.sensor.service == "b"


def test_env_names_of_nested_and_dashed_keys() -> None:
    assert env_name("sensor.interval") == "CODEWITNESS_SENSOR_INTERVAL"
    assert env_name("check.new-package-days") == "CODEWITNESS_CHECK_NEW_PACKAGE_DAYS"
    assert env_name("database") == "CODEWITNESS_DATABASE"


def test_settings_table_lists_every_leaf_with_its_value_and_help() -> None:
    config = Config()
    rows = settings_table(config)
    keys = [key for key, _, _ in rows]
    assert keys[0] == "database"
    assert "sensor.interval" in keys and "capture.max_file_bytes" in keys and "check.fail_on" in keys
    assert "sensor" not in keys and "invariants" in keys and "review" in keys
    assert len(keys) == len(set(keys))
    by_key = {key: (value, meaning) for key, value, meaning in rows}
    assert by_key["sensor.interval"] == (10.0, "Seconds per aggregation interval (one export batch each).")
    assert by_key["invariants"][0] == ()
    loaded = load_config(Path("/"), environ={})
    assert sorted(loaded.sources) == sorted(keys)


def test_doc_metadata_carries_help_and_checks() -> None:
    from codewitness.config import doc

    assert doc("help", minimum=1) == {"doc": "help", "minimum": 1}


def test_root_is_the_nearest_folder_with_git_or_our_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "inner" / "deep").mkdir(parents=True)
    (tmp_path / "inner" / "codewitness.toml").write_text("")
    assert find_project_root(tmp_path / "inner" / "deep") == (tmp_path / "inner").resolve()
    (tmp_path / "inner" / "deep" / "pyproject.toml").write_text("")
    # codewitness.toml or .git higher up wins over a nearer pyproject.toml.
    assert find_project_root(tmp_path / "inner" / "deep") == (tmp_path / "inner").resolve()
    (tmp_path / "inner" / "codewitness.toml").unlink()
    assert find_project_root(tmp_path / "inner" / "deep") == (tmp_path / "inner" / "deep").resolve()
    (tmp_path / "inner" / "deep" / "pyproject.toml").unlink()
    (tmp_path / "pyproject.toml").unlink()
    markers = (".git", "codewitness.toml", "pyproject.toml")
    if any((folder / m).exists() for folder in tmp_path.resolve().parents for m in markers):
        pytest.skip("a folder above the temporary folder is a project")
    assert find_project_root(tmp_path / "inner" / "deep") == (tmp_path / "inner" / "deep").resolve()
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


# -- configuration files that are not files --------------------------------------------------------

_LOAD = """import pathlib, sys
from codewitness.config import load_config
try:
    load_config(pathlib.Path(sys.argv[1]))
except Exception as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_configuration_file_that_is_a_device_or_a_fifo_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    # Before: a codewitness.toml linked to /dev/zero was read until memory ran out; a FIFO waited
    # for a writer forever (an init() in the host hung). In a subprocess, so a hang fails the test.
    import os
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    own = tmp_path / "codewitness.toml"
    if kind == "device":
        own.symlink_to("/dev/zero")
    else:
        os.mkfifo(own)
    done = subprocess.run([sys.executable, "-c", _LOAD, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"ConfigError {own}: not a regular file", done.stderr


def test_a_configuration_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "codewitness.toml").write_bytes(b'[sensor]\nservice = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match=r"codewitness.toml: not UTF-8 text \(invalid start byte at byte 20\)"):
        load_config(tmp_path)
