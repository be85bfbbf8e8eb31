"""`codewitness check` on its fast path: the same arguments as Typer reads, the same output, without Typer or Rich."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import GitRepo

from codewitness.cli._app import build_app
from codewitness.cli._check import CheckArgs, fast_args

TOKENS = [
    "check",
    "src",
    "a.py",
    "-",
    "",
    "--",
    "--json",
    "--offline",
    "--ai-only",
    "--record",
    "--base",
    "--base=HEAD~1",
    "HEAD",
    "--only",
    "--only=deps",
    "apis",
    "--jobs",
    "--jobs=2",
    "1",
    "3",
    "-1",
    "--sarif",
    "--sarif=out.sarif",
    "--md=r.md",
    "--fail-on",
    "high",
    "--baseline=b.json",
    "--write-baseline",
    "--provenance-since=base",
    "--hook",
    "claude",
    "--db",
    "--db=sqlite:///x.db",
    "-h",
    "--help",
    "--jso",
    "--fail-on=",
]


def typer_args(argv: list[str]) -> CheckArgs | None:
    """What Typer makes of ``argv``, as :class:`CheckArgs` (``None`` when it refuses it, or for ``--hook``)."""
    command = typer.main.get_command(build_app())
    try:
        ctx = command.make_context("codewitness", list(argv))
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        name, sub, args = command.resolve_command(ctx, rest)
        if name != "check" or sub is None:
            return None
        params = sub.make_context(name, args, parent=ctx).params
    except (typer.Exit, SystemExit, Exception):  # any refusal means "not a plain check"
        return None
    if params["hook"]:
        return None

    def path(value: object) -> Path | None:
        return None if value is None else Path(str(value))

    return CheckArgs(
        paths=tuple(Path(str(p)) for p in params["paths"] or ()),
        base=params["base"],
        as_json=params["as_json"],
        sarif=path(params["sarif"]),
        md=path(params["md"]),
        fail_on=params["fail_on"],
        baseline=path(params["baseline"]),
        write_baseline=path(params["write_baseline"]),
        only=tuple(params["only"] or ()),
        offline=params["offline"],
        ai_only=params["ai_only"],
        jobs=params["jobs"],
        provenance_since=params["provenance_since"],
        record=params["record"],
        root_db=ctx.params["db"],
    )


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_the_fast_parser_accepts_only_what_typer_reads_the_same_way(argv: list[str]) -> None:
    fast = fast_args(argv)
    if fast is not None:
        assert typer_args(argv) == fast


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["check", "--json"],
        ["check", "src", "a.py", "--json", "--only", "deps", "--only=apis", "--jobs", "1"],
        ["--db", "sqlite:///r.db", "check", "--base=HEAD~1", "--sarif", "out.sarif", "--md=r.md"],
        ["check", "--fail-on", "high", "--baseline=b.json", "--offline", "--ai-only", "--record"],
        ["check", "--write-baseline", "b.json", "--provenance-since", "base"],
    ],
)
def test_plain_invocations_take_the_fast_path(argv: list[str]) -> None:
    fast = fast_args(argv)
    assert fast is not None and fast == typer_args(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--help"],
        ["check", "--hook", "claude"],
        ["check", "--", "a.py"],
        ["check", "--json", "--json"],
        ["check", "--base", "a", "--base", "b"],
        ["check", "--jobs", "3"],
        ["check", "--jobs=+1"],
        ["check", "--fail-on"],
        ["check", "--db", "sqlite:///x.db"],
        ["--db", "a", "--db", "b", "check"],
        ["deps"],
    ],
)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert fast_args(argv) is None


_PROBE = """
import sys
from codewitness.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"typer", "rich", "click", "pydantic"})
print("loaded:", ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def _check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=root, capture_output=True, text=True, env=env, check=False
    )


def test_a_plain_check_answers_without_typer_or_rich_and_as_typer_does(git_repo: GitRepo) -> None:
    git_repo.write("app.py", "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    git_repo.commit("app")
    fast = _check(git_repo.root, "check", "--json", "--offline", "--only", "security")
    assert fast.returncode == 1, fast.stderr
    assert fast.stderr.strip().splitlines()[-1] == "loaded:"
    report = json.loads(fast.stdout)
    assert report["findings"] and report["findings"][0]["path"] == "app.py"
    # --offline twice: a form the fast parser leaves to Typer, which reads it the same way.
    slow = _check(git_repo.root, "check", "--json", "--offline", "--offline", "--only", "security")
    assert slow.returncode == 1 and "typer" in slow.stderr.strip().splitlines()[-1]
    report.pop("seconds")
    assert {k: v for k, v in json.loads(slow.stdout).items() if k != "seconds"} == report
    text_fast = _check(git_repo.root, "check", "--offline", "--only", "security")
    text_slow = _check(git_repo.root, "check", "--offline", "--offline", "--only", "security")
    assert text_fast.returncode == text_slow.returncode == 1
    assert text_fast.stdout == text_slow.stdout and "app.py:5" in text_fast.stdout
    assert "rich" in text_fast.stderr.strip().splitlines()[-1]  # human output is Rich's, loaded when needed
