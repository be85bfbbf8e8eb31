"""API checks: resolution against what is installed, and no false positives on real code."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from codewitness.checks import CheckContext, run_checks
from codewitness.checks.apis import ModuleIndex, check_file
from codewitness.checks.context import SourceFile


def findings(tmp_path: Path, code: str) -> list[tuple[str, int, str]]:
    path = tmp_path / "snippet.py"
    path.write_text(code)
    return [
        (f.rule_id, f.line, f.properties["name"]) for f in check_file(SourceFile(path, "snippet.py"), ModuleIndex())
    ]


def test_other_platforms_and_versions_count_as_existing(tmp_path):
    code = (
        "import os, sys, typing, msvcrt, winreg\n"
        "from typing import override\n"  # 3.12+; typeshed knows it, so 3.11 runs do not flag it
        "os.startfile('x'); sys.getwindowsversion(); msvcrt.getch(); winreg.HKEY_CURRENT_USER\n"
        "msvcrt.fetch_all()\n"
        "import json\njson.parse('1')\n"
    )
    assert findings(tmp_path, code) == [("CW201", 4, "fetch_all"), ("CW201", 6, "parse")]


def test_guarded_code_is_not_reported(tmp_path):
    code = (
        "import sys, io, gc, base64\n"
        "if sys.platform == 'win32':\n    io.NotThere\n"
        "try:\n    base64.decodestring\nexcept AttributeError:\n    pass\n"
        "if hasattr(gc, 'hooks'):\n    gc.hooks\n"
        "def f():\n    if not sys.platform.startswith('win'):\n        return\n    io.WindowsOnly\n"
        "import contextlib\nwith contextlib.suppress(ImportError):\n    from json import fancy\n"
        "gc.nothing_here\n"
    )
    assert findings(tmp_path, code) == [("CW201", 17, "nothing_here")]


def test_shadowed_and_monkeypatched_names_are_not_reported(tmp_path):
    code = (
        "import json\nimport requests\n"
        "requests.fetch_json = lambda u: {}\nrequests.fetch_json('u')\n"
        "def f(json):\n    return json.parse('x')\n"
    )
    assert findings(tmp_path, code) == []


def test_submodules_and_aliases(tmp_path):
    code = (
        "import requests.adapters as ad\nimport xml.etree.ElementTree as ET\nimport os.path\n"
        "ad.HTTPAdapter; ad.NoAdapter; ET.fromstring; ET.parse_all; os.path.join; os.path.joinpath\n"
        "from requests import adapters, nothing_at_all\nimport requests.nowhere\n"
    )
    got = findings(tmp_path, code)
    assert ("CW201", 4, "NoAdapter") in got and ("CW201", 4, "parse_all") in got and ("CW201", 4, "joinpath") in got
    assert ("CW202", 5, "nothing_at_all") in got and ("CW203", 6, "requests.nowhere") in got
    assert len(got) == 5


def test_dynamic_modules_are_unknown_not_reported(tmp_path):
    lazy = tmp_path / "lazymod"
    lazy.mkdir()
    (lazy / "__init__.py").write_text("def __getattr__(name):\n    return name\n")
    static = tmp_path / "staticmod.py"
    static.write_text("from json import *\nVALUE = 1\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        got = findings(
            tmp_path, "import lazymod, staticmod\nlazymod.anything\nstaticmod.loads\nstaticmod.VALUE\nstaticmod.nope\n"
        )
    finally:
        sys.path.remove(str(tmp_path))
    assert got == [("CW201", 5, "nope")]


def test_a_stub_may_name_stub_only_private_helpers(tmp_path):
    # Generated .pyi files (mypy-protobuf, as opentelemetry-proto ships) use typeshed-only helpers such
    # as google.protobuf.internal.enum_type_wrapper._EnumTypeWrapper; a stub is never run.
    (tmp_path / "gen_pb2.pyi").write_text("import json\n\nclass W(json._StubOnlyHelper): ...\n")
    (tmp_path / "run.py").write_text("import json\n\njson._StubOnlyHelper\njson.nothing_here\n")
    report = run_checks(CheckContext.build(tmp_path), families=("apis",))
    assert sorted((f.path, f.line) for f in report.findings) == [("run.py", 3), ("run.py", 4)]


# Real code: the installed sources of popular libraries use their dependencies and the standard
# library in every ordinary way. Not one of those uses may be reported.
REAL = [
    "requests",
    "click",
    "typer",
    "jsonschema",
    "starlette",
    "fastapi",
    "urllib3",
    "packaging",
    "anyio",
    "opentelemetry",
    "rich",
]


@pytest.mark.parametrize("package", REAL)
def test_no_false_positive_on_installed_libraries(package):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    report = run_checks(CheckContext.build(root), families=("apis",))
    assert report.files > 4
    assert [(f.path, f.line, f.message) for f in report.findings] == []


def test_result_cache_reuses_unchanged_files_and_notices_module_changes(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper.py").write_text("def known():\n    return 1\n")
    monkeypatch.syspath_prepend(str(lib))
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("import helper\nhelper.known()\nhelper.later()\n")
    cache_file = tmp_path / "file-results.json"

    def run() -> tuple[list[int], CheckContext]:
        ctx = CheckContext.build(project)
        report = run_checks(ctx, families=("apis", "security"), result_cache=cache_file)
        return [f.line for f in report.findings], ctx

    assert run()[0] == [3]
    lines, ctx = run()
    assert lines == [3] and "tree" not in ctx.files[0].__dict__  # served from the cache: not even parsed
    # The module the finding depends on gains the name: the unchanged file is checked again.
    (lib / "helper.py").write_text("def known():\n    return 1\n\n\ndef later():\n    return 2\n")
    assert run()[0] == []
    cache_file.write_text("{not json")
    assert run()[0] == []


def test_result_cache_keeps_the_linter_versions_while_the_installed_distributions_stay(tmp_path):
    """Reading the linters' versions from the distributions' metadata costs a small project's warm run a tenth of
    its time: the cache keeps them with the modification times of the folders on sys.path, and reads them again
    when those change (an install, upgrade or removal)."""
    from codewitness.checks._perfile import FileResultCache, _linter_versions, sys_path_stamp

    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("import os\nos.no_such_name()\n")
    cache_file = tmp_path / "file-results.json"
    report = run_checks(CheckContext.build(project), families=("apis",), result_cache=cache_file)
    assert [f.line for f in report.findings] == [2]
    saved = json.loads(cache_file.read_text())
    assert saved["environment"] == sys_path_stamp()
    assert saved["linters"] == _linter_versions() and any(v.startswith("ruff:") for v in saved["linters"])
    assert FileResultCache(cache_file)._entries  # read back as written
    # As if ruff had been upgraded by something that kept the folders' times: the kept versions are what counts,
    # so the build differs and every file is checked again.
    saved["linters"] = ["ruff:0.0.1"]
    cache_file.write_text(json.dumps(saved))
    kept = FileResultCache(cache_file)
    assert kept.linters == ["ruff:0.0.1"] and kept._entries == {}
    # Another environment: the versions are read from the metadata again.
    saved["environment"] = "another"
    cache_file.write_text(json.dumps(saved))
    assert FileResultCache(cache_file).linters == _linter_versions()


def test_a_fresh_run_parses_a_file_with_findings_once(git_repo):
    """The per-file rules parse each file; naming the function around a finding needs the tree again: the files with
    findings keep theirs (the others let them go), so a cold run does not parse them twice."""
    git_repo.write("bad.py", "import json\n\n\ndef handler():\n    return json.parse('{}')\n")
    git_repo.write("good.py", "import json\n\nprint(json.dumps({}))\n")
    git_repo.commit("two files")
    ctx = CheckContext.build(git_repo.root)
    report = run_checks(ctx, families=("apis",), jobs=1)
    assert [(f.path, f.qualname) for f in report.findings] == [("bad.py", "handler")]
    files = {f.rel: f for f in ctx.files}
    assert "tree" in files["bad.py"].__dict__ and "tree" not in files["good.py"].__dict__
    assert ctx.parsed_tree("bad.py") is files["bad.py"].__dict__["tree"]
