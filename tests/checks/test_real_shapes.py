"""False alarms and misses found by running the gate on real repositories (datasette, flask, attrs), each
reproduced in the shape it had there: a test per class, in real files, git repositories and an index on loopback.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codewitness.checks import CheckContext, run_checks
from codewitness.checks.apis import (
    ModuleIndex,
    _editable_sources,
    _stub_folders,
    check_file,
    editable_candidates,
    editable_sources,
)
from codewitness.checks.context import SourceFile, matches_any
from codewitness.checks.index import IndexCache, IndexClient
from codewitness.checks.security import ast_findings
from codewitness.config import CheckSection
from codewitness.errors import ConfigError
from tests.checks.conftest import git

CLAUDE = "\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _source(tmp_path: Path, code: str, rel: str = "app.py") -> SourceFile:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return SourceFile(path, rel)


def _rules(findings) -> list[tuple[str, int]]:
    return sorted((f.rule_id, f.line) for f in findings)


# -- security: mock.patch is not an HTTP verb (datasette tests/test_cli.py, test_publish_*.py) ---------------


def test_mock_patch_decorators_are_not_patch_handlers(tmp_path):
    f = _source(
        tmp_path,
        """
        from unittest import mock
        from unittest.mock import patch
        import flask

        app = flask.Flask(__name__)

        @mock.patch("datasette.cli.run_module")
        def install_plugins(run_module):
            run_module.assert_called_once()

        @mock.patch("shutil.which")
        @mock.patch("datasette.publish.cloudrun.check_output")
        def publish(mock_output, mock_which):
            mock_which.return_value = True

        @patch.object(flask.Flask, "run")
        def serve(run):
            run()

        @app.patch("/items/<int:item_id>")
        def update_item(item_id):
            return {"id": item_id}
        """,
    )
    assert _rules(f for f in ast_findings(f) if f.rule_id == "CW303") == [("CW303", 22)]


# -- security: set-derived SQL parameters (datasette app.py expand_foreign_keys) ------------------------------


def test_set_as_sql_parameters_is_not_an_ordering_problem(tmp_path):
    f = _source(
        tmp_path,
        """
        async def labels(self, database, values):
            sql = "select id, name from t where id in ({})".format(", ".join(["?"] * len(set(values))))
            results = await self.execute(database, sql, list(set(values)))
            if 3 in list(set(values)):
                pass
            return list(set(values))
        """,
    )
    assert _rules(f for f in ast_findings(f) if f.rule_id == "CW309") == [("CW309", 7)]


# -- security: SQL built from strings (datasette composes SQL from escaped names and fragments) ----------------


def test_sql_from_strings_is_judged_by_what_goes_in(tmp_path):
    f = _source(
        tmp_path,
        """
        def queries(conn, request, table, name, where_clause, values):
            conn.execute(f"select count(*) from {escape_sqlite(table)}")
            conn.execute("select * from t where id in ({})".format(", ".join("?" for _ in values)), values)
            conn.execute('''select name from sqlite_master where sql like '%{table}%' '''.format(
                table=table.replace("'", "''")))
            conn.execute(f"select * from {escape_sqlite(table)} limit {len(values) + 1}")
            conn.execute(f"select * from {table} where {where_clause} limit 5")
            conn.execute(f"SELECT * FROM users WHERE name = '{name}'")
            conn.execute("select * from users where id = " + request.args["id"])
            conn.execute("delete from t where name = '%s'" % name)
        """,
    )
    found = {f.line: f.level for f in ast_findings(f) if f.rule_id == "CW310"}
    assert found == {8: "medium", 9: "high", 10: "high", 11: "high"}


def test_literal_shell_commands_are_low_and_built_ones_high(tmp_path):
    from codewitness.checks.security import ruff_findings, start_ruff

    f = _source(
        tmp_path,
        """
        from subprocess import check_call, check_output

        def deploy(service, image_id):
            project = check_output("gcloud config get-value project", shell=True)
            check_call("gcloud run deploy --image {} {}".format(image_id, service), shell=True)
        """,
    )
    found = {(x.line, x.level) for x in ruff_findings(start_ruff([f]), [f]) if "S602" in x.message}
    assert found == {(5, "low"), (6, "high")}


def test_best_effort_cleanup_and_noqa_for_the_replaced_ruff_rule(tmp_path):
    # datasette/database.py closes connections best-effort; attrs/validators.py carries a noqa comment naming S112.
    root = _write(
        tmp_path / "proj",
        {
            "app.py": """
                async def close(self, conn, uploaded, validators, inst, value):
                    try:
                        conn.close()
                    except Exception:
                        pass
                    try:
                        await uploaded.aclose()
                    except Exception:
                        pass
                    for v in validators:
                        try:
                            v(inst, value)
                        except Exception:  # noqa: BLE001, PERF203, S112
                            continue
                    conn.execute(f"select * from t where name = '{value}'")  # noqa: S608
                    try:
                        conn.commit()
                    except Exception:
                        pass
                """
        },
    )
    report = run_checks(CheckContext.build(root), families=("security",))
    assert [(f.rule_id, f.line) for f in report.findings] == [("CW305", 19)]


# -- test code is judged as tests (datasette tests: S105/S106 fixtures) ----------------------------------------


CREDENTIALS = """
    def login(client, password=None):
        password = "hunter2-fixture"
        return client.post("/login", password="s3cret-value")
"""


def test_hard_coded_passwords_in_tests_are_counted_not_reported(tmp_path):
    swallowing = (
        "\ndef test_teardown():\n    try:\n        raise Exception('dummy')\n    except Exception:\n        pass\n"
    )
    root = _write(
        tmp_path / "proj", {"tests/test_auth.py": textwrap.dedent(CREDENTIALS) + swallowing, "app/auth.py": CREDENTIALS}
    )
    report = run_checks(CheckContext.build(root), families=("security",))
    by_path = {(f.path, f.properties.get("upstream")) for f in report.findings}
    assert ("app/auth.py", "ruff S105") in by_path and ("app/auth.py", "ruff S106") in by_path
    assert not [f for f in report.findings if f.path.startswith("tests/")]
    assert report.in_tests >= 3  # two passwords and flask's raise-and-swallow teardown test (CW305)

    narrow = CheckSection(skip_in_tests=("S105",))
    report = run_checks(CheckContext.build(root, settings=narrow), families=("security",))
    in_tests = {(f.rule_id, f.properties.get("upstream")) for f in report.findings if f.path.startswith("tests/")}
    assert in_tests == {("CW301", "ruff S106"), ("CW305", None)}  # only S105 is skipped now

    elsewhere = CheckSection(test_paths=("spec/**",))
    report = run_checks(CheckContext.build(root, settings=elsewhere), families=("security",))
    assert any(f.path == "tests/test_auth.py" for f in report.findings)


def test_skip_in_tests_rejects_what_is_neither_rule_nor_ruff_code(tmp_path):
    root = _write(tmp_path / "proj", {"a.py": "x = 1\n"})
    with pytest.raises(ConfigError, match="skip_in_tests"):
        run_checks(CheckContext.build(root, settings=CheckSection(skip_in_tests=("CW999",))), families=("security",))


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("tests/test_api.py", True),
        ("tests/plugins/my_plugin.py", True),
        ("src/pkg/tests/helpers.py", True),
        ("conftest.py", True),
        ("pkg/test_utils.py", True),
        ("pkg/utils_test.py", True),
        ("datasette/app.py", False),
        ("docs/testing_plugins.py", False),
        ("contest.py", False),
    ],
)
def test_default_test_paths(rel, expected):
    assert matches_any(rel, CheckSection().test_paths) is expected


# -- deps: declared dotted distributions, version-guarded imports ---------------------------------------------


def _index_ctx(root: Path, server, **kw) -> CheckContext:
    ctx = CheckContext.build(root, **kw)
    ctx.index = IndexClient(server.simple, None, cache=IndexCache(root / ".codewitness/cache/idx.json"), timeout=5)
    return ctx


def test_declared_dotted_distribution_provides_its_namespace(tmp_path, index_server):
    # datasette declares ruamel.yaml in a dependency group (not installed here) and imports ruamel.yaml in docs/.
    root = _write(
        tmp_path / "proj",
        {
            "pyproject.toml": '[project]\nname = "demo"\n[dependency-groups]\ndocs = ["ruamel.yaml"]\n',
            "docs/metadata_doc.py": "from ruamel.yaml import YAML\nfrom fakens.thing import Helper\n",
        },
    )
    report = run_checks(_index_ctx(root, index_server), families=("deps",))
    imported = {(f.rule_id, f.properties.get("module")) for f in report.findings if f.path == "docs/metadata_doc.py"}
    assert ("CW101", "ruamel") not in imported
    assert imported == {("CW101", "fakens")}  # an undeclared invented namespace is still reported


def test_stdlib_modules_of_newer_pythons_are_not_packages(tmp_path, index_server):
    # attrs/_compat.py: `if PY_3_14_PLUS:` ... `import annotationlib` (a 3.14 standard-library module).
    root = _write(
        tmp_path / "proj",
        {
            "requirements.txt": "requests\n",
            "compat.py": """
                import sys
                PY_3_14_PLUS = sys.version_info[:2] >= (3, 14)
                if PY_3_14_PLUS:
                    import backports_not_needed_here
                def annotations(cls):
                    import annotationlib
                    return annotationlib.get_annotations(cls)
                import tomllib, no_such_backportx
                """,
        },
    )
    report = run_checks(_index_ctx(root, index_server), families=("deps",))
    assert {(f.rule_id, f.properties.get("module")) for f in report.findings} == {("CW101", "no_such_backportx")}


def test_version_guarded_and_optional_imports_are_optional(tmp_path, index_server):
    # datasette/plugins.py and handle_exception.py: backports under a version guard, debuggers in try/except.
    root = _write(
        tmp_path / "proj",
        {
            "requirements.txt": "requests\n",
            "plugins.py": """
                import sys
                import contextlib
                from typing import TYPE_CHECKING

                if sys.version_info >= (3, 9):
                    import importlib.resources as importlib_resources
                else:
                    import importlib_resources
                try:
                    import ipdb as pdb
                except ImportError:
                    import pdb
                with contextlib.suppress(ImportError):
                    import rich
                if TYPE_CHECKING:
                    import types_only_helpers
                import importlib_metadata
                """,
        },
    )
    report = run_checks(_index_ctx(root, index_server), families=("deps",))
    assert {(f.rule_id, f.properties.get("module"), f.line) for f in report.findings} == {
        ("CW106", "importlib_metadata", 18)
    }


def test_modules_a_test_writes_and_imports_are_not_packages(tmp_path, index_server):
    # flask tests/test_instance_config.py writes config_module_app.py into a temp folder, then imports it.
    root = _write(
        tmp_path / "proj",
        {
            "requirements.txt": "requests\n",
            "tests/test_instance.py": """
                def test_module_paths(modules_tmp_path, purge_module):
                    (modules_tmp_path / "config_module_app.py").write_text("app = 1")
                    purge_module("config_module_app")
                    from config_module_app import app
                    import no_such_fixture_pkgx
                """,
        },
    )
    report = run_checks(_index_ctx(root, index_server), families=("deps",))
    assert {(f.rule_id, f.properties.get("module")) for f in report.findings} == {("CW101", "no_such_fixture_pkgx")}


# -- apis: modules with a module-level __getattr__ ------------------------------------------------------------


def test_click_and_pluggy_getattr_shims_do_not_hide_invented_names(tmp_path):
    f = _source(
        tmp_path,
        """
        import click
        import pluggy

        click.no_such_command()
        click.echo("fine")
        click.BaseCommand
        pluggy.no_such_manager
        pluggy.__version__
        pluggy.HookimplMarker
        """,
    )
    assert sorted((x.rule_id, x.line, x.properties["name"]) for x in check_file(f, ModuleIndex())) == [
        ("CW201", 5, "no_such_command"),
        ("CW201", 8, "no_such_manager"),
    ]


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """A folder on sys.path for packages written by a test (and the path caches cleared around it)."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    _editable_sources.cache_clear()
    _stub_folders.cache_clear()
    yield folder
    _editable_sources.cache_clear()
    _stub_folders.cache_clear()


def test_getattr_shapes_of_httpx_markupsafe_and_lazy_tables(tmp_path, on_path):
    _write(
        on_path,
        {
            # httpx: __all__, then setattr(<each exported class>, "__module__", ...) in a loop.
            "httpxlike/__init__.py": """
                from ._client import Client
                __all__ = ["Client"]
                __locals = locals()
                for __name in __all__:
                    setattr(__locals[__name], "__module__", "httpxlike")
                """,
            "httpxlike/_client.py": "class Client:\n    pass\n",
            # markupsafe / itsdangerous: a __version__ deprecation shim.
            "markuplike/__init__.py": """
                class Markup(str):
                    pass

                def __getattr__(name):
                    if name == "__version__":
                        import importlib.metadata
                        return importlib.metadata.version("markuplike")
                    raise AttributeError(name)
                """,
            # hypothesis: assigns to another module's attribute at import time, which binds nothing here.
            "hypolike/__init__.py": """
                import json as _state
                from json import loads as given
                _state.in_initialization = 1
                _state.in_initialization -= 1
                __all__ = ["given"]
                """,
            # a lazy loader with a static table
            "lazytable/__init__.py": """
                import importlib
                _LAZY = {"Frame": ".frame", "Series": ".series"}

                def __getattr__(name):
                    try:
                        return getattr(importlib.import_module(_LAZY[name], __name__), name)
                    except KeyError:
                        raise AttributeError(name) from None
                """,
            # an open __getattr__: nothing can decide, and it is counted
            "openlazy/__init__.py": """
                import importlib
                __all__ = ["Known"]

                def __getattr__(name):
                    return importlib.import_module("." + name, __name__)
                """,
            # the same, with a stub that declares its API: the stub decides
            "stubbed/__init__.py": """
                import importlib

                def __getattr__(name):
                    return importlib.import_module("." + name, __name__)
                """,
            "stubbed/__init__.pyi": "class Declared: ...\n",
        },
    )
    f = _source(
        tmp_path,
        """
        import httpxlike, markuplike, lazytable, openlazy, stubbed
        from hypolike import given, no_such_strategy

        httpxlike.Client
        httpxlike.no_such_client
        markuplike.Markup
        markuplike.__version__
        markuplike.no_such_markup
        lazytable.Frame
        lazytable.no_such_frame
        openlazy.Known
        openlazy.anything
        stubbed.Declared
        stubbed.not_declared
        """,
    )
    undecided: list[tuple[str, int]] = []
    found = sorted((x.line, x.properties["name"]) for x in check_file(f, ModuleIndex(), undecided))
    assert found == [
        (3, "no_such_strategy"),
        (6, "no_such_client"),
        (9, "no_such_markup"),
        (11, "no_such_frame"),
        (15, "not_declared"),
    ]
    assert undecided == [("openlazy", 13)]


def test_undecided_names_are_counted_in_the_report(tmp_path, on_path):
    _write(on_path, {"openlazy2/__init__.py": "def __getattr__(name):\n    return name\n"})
    root = _write(tmp_path / "proj", {"use.py": "import openlazy2\nopenlazy2.a\nopenlazy2.b\n"})
    report = run_checks(CheckContext.build(root), families=("apis",))
    assert not report.findings
    assert report.undecided == {"openlazy2": 2}


# -- apis: the project's own packages and editable installs (datasette's tests import datasette) ---------------


def test_invented_name_in_the_projects_own_package(tmp_path):
    root = _write(
        tmp_path / "proj",
        {
            "mypkg/__init__.py": "",
            "mypkg/utils.py": "def escape_sqlite(s):\n    return s\n",
            "tests/test_utils.py": "from mypkg.utils import escape_sqlite, no_such_helper\nimport mypkg.nothing\n",
        },
    )
    report = run_checks(CheckContext.build(root), families=("apis",))
    assert sorted((f.rule_id, f.properties["name"]) for f in report.findings) == [
        ("CW202", "no_such_helper"),
        ("CW203", "mypkg.nothing"),
    ]
    assert "the project's mypkg.utils has no 'no_such_helper'" in {f.message for f in report.findings}


def test_invented_name_in_an_editable_install(tmp_path, on_path):
    project = _write(
        tmp_path / "edlib",
        {
            "pyproject.toml": '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "edlib"\nversion = "1.0"\n[tool.setuptools.packages.find]\ninclude = ["edlib*"]\n',
            "edlib/__init__.py": "",
            "edlib/utils.py": "def real_helper():\n    pass\n",
        },
    )
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--prefix", str(prefix), "-e", str(project)],
        check=True,
        capture_output=True,
    )
    site = next(prefix.glob("lib/python*/site-packages"))
    assert list(site.glob("__editable___edlib_*finder.py")), "setuptools wrote no editable finder"
    # The finder only works once its .pth has run; sys.path's own entries do not show the package.
    sys.path.insert(0, str(site))
    try:
        _editable_sources.cache_clear()
        f = _source(tmp_path, "from edlib.utils import real_helper, no_such_helper\n")
        assert [(x.rule_id, x.properties["name"]) for x in check_file(f, ModuleIndex())] == [
            ("CW202", "no_such_helper")
        ]
        # What a result cache keeps of the metadata gives the same folders.
        assert ("edlib", "finder", str(project / "edlib")) in editable_candidates()
        assert editable_sources(editable_candidates()) == _editable_sources()
    finally:
        sys.path.remove(str(site))
        _editable_sources.cache_clear()


# -- provenance: history that predates the tool ---------------------------------------------------------------


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", ".")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_agent_commits_before_adoption_are_not_judged(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    for n in range(3):
        (repo / f"old{n}.py").write_text(f"x = {n}\n")
        _commit(repo, f"old {n}" + CLAUDE)
    never = run_checks(CheckContext.build(repo, base=base), families=("provenance",))
    assert never.findings == []
    assert any("3 agent-marked commit(s) not judged" in why for _, why in never.skipped)

    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.codewitness.check]\nfail_on = "high"\n')
    _commit(repo, "adopt codewitness")
    (repo / "new.py").write_text("y = 1\n")
    _commit(repo, "new" + CLAUDE)
    adopted = run_checks(CheckContext.build(repo, base=base), families=("provenance",))
    assert [(f.rule_id, f.path) for f in adopted.findings] == [("CW401", "new.py")]
    assert any("3 agent-marked commit(s) before adopting codewitness" in why for _, why in adopted.skipped)

    settings = dataclasses.replace(CheckSection(), provenance_since="base")
    everything = run_checks(CheckContext.build(repo, base=base, settings=settings), families=("provenance",))
    assert len([f for f in everything.findings if f.rule_id == "CW401"]) == 4


def test_a_note_marks_adoption_too(repo):
    from codewitness.attribution.notes import CommitNote, NoteEntry, write_note

    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a.py").write_text("a = 1\n")
    _commit(repo, "a" + CLAUDE)
    (repo / "b.py").write_text("b = 1\n")
    noted = _commit(repo, "b" + CLAUDE)
    write_note(repo, noted, CommitNote(files={"b.py": (NoteEntry("ai", ((1, 1),), ("gen_1",), agent="claude"),)}))
    (repo / "c.py").write_text("c = 1\n")
    _commit(repo, "c" + CLAUDE)
    report = run_checks(CheckContext.build(repo, base=base), families=("provenance",))
    assert [(f.rule_id, f.path) for f in report.findings] == [("CW401", "c.py")]


def test_a_result_cache_keeps_what_the_metadata_says_about_editable_installs(tmp_path, on_path):
    """Reading every distribution's metadata to find editable installs cost a warm run tens of milliseconds: the
    result cache keeps it with the sys.path folders' times, and the folders are looked up from it each run."""
    import json

    from codewitness.checks._perfile import FileResultCache

    _write(tmp_path / "proj", {"src/edpkg/__init__.py": "def real():\n    pass\n"})
    cache_file = tmp_path / "file-results.json"
    first = FileResultCache(cache_file)
    assert first.editable_sources() == _editable_sources()
    first.save()
    saved = json.loads(cache_file.read_text())
    assert saved["editable"] == [list(c) for c in editable_candidates()]
    # As if the metadata named a project: the kept facts decide, not the metadata read again.
    saved["editable"] = [["edpkg", "project", str(tmp_path / "proj")], ["edpkg", "project", "/elsewhere"]]
    cache_file.write_text(json.dumps(saved))
    kept = FileResultCache(cache_file)
    assert kept.editable_sources() == {"edpkg": tmp_path / "proj" / "src" / "edpkg"}
    names = ModuleIndex(editable=kept.editable_sources).lookup("edpkg")
    assert names is not None and "real" in names.names
    # The project moves its package to its top: found there, with the same kept facts.
    (tmp_path / "proj" / "src" / "edpkg").rename(tmp_path / "proj" / "edpkg")
    assert FileResultCache(cache_file).editable_sources() == {"edpkg": tmp_path / "proj" / "edpkg"}
    # Another environment: the metadata is read again.
    saved["environment"] = "another"
    cache_file.write_text(json.dumps(saved))
    assert FileResultCache(cache_file).editable_sources() == _editable_sources()
