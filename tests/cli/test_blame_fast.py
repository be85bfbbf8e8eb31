"""`codewitness blame` on its fast path: the same answer as through Typer, without Typer, Rich or SQLAlchemy."""

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

from codewitness.attribution._litecache import LiteCache, open_cache
from codewitness.attribution.blame import Attributor
from codewitness.cli._app import build_app
from codewitness.cli._blame import BlameArgs, fast_args
from codewitness.config import load_config

TOKENS = [
    "blame",
    "a.py",
    "src/b.py",
    "-",
    "",
    "--rev",
    "--rev=HEAD~1",
    "HEAD",
    "--json",
    "--no-cache",
    "--db",
    "--db=sqlite:///x.db",
    "sqlite:///y.db",
    "--",
    "-h",
    "--help",
    "--version",
    "--jso",
    "--rev=",
    "-x",
]


def typer_args(argv: list[str]) -> BlameArgs | None:
    """What Typer makes of ``argv``, as :class:`BlameArgs` (``None`` when it refuses it or it is not blame)."""
    command = typer.main.get_command(build_app())
    try:
        ctx = command.make_context("codewitness", list(argv))
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        name, sub, args = command.resolve_command(ctx, rest)
        if name != "blame" or sub is None:
            return None
        params = sub.make_context(name, args, parent=ctx).params
    except (typer.Exit, SystemExit, Exception):  # any refusal means "not a plain blame"
        return None
    return BlameArgs(
        file=Path(params["file"]),  # Typer converts to Path when it calls the command (0.29 already while parsing)
        rev=params["rev"],
        as_json=params["as_json"],
        no_cache=params["no_cache"],
        db=params["db"],
        root_db=ctx.params["db"],
    )


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_the_fast_parser_accepts_only_what_typer_reads_the_same_way(argv: list[str]) -> None:
    fast = fast_args(argv)
    if fast is not None:
        assert typer_args(argv) == fast


@pytest.mark.parametrize(
    "argv",
    [
        ["blame", "a.py"],
        ["blame", "--json", "a.py", "--rev", "HEAD~2", "--no-cache"],
        ["--db", "sqlite:///r.db", "blame", "a.py", "--db=sqlite:///c.db"],
        ["blame", "--rev=v1", "src/b.py"],
    ],
)
def test_plain_invocations_take_the_fast_path(argv: list[str]) -> None:
    fast = fast_args(argv)
    assert fast is not None and fast == typer_args(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["blame"],
        ["blame", "--help"],
        ["blame", "a.py", "b.py"],
        ["blame", "--", "a.py"],
        ["blame", "a.py", "--json", "--json"],
    ],
)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert fast_args(argv) is None


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}


_PROBE = """
import sys
from codewitness.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"typer", "rich", "sqlalchemy", "pydantic", "click"})
print("loaded:", ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def _blame(root: Path, *args: str) -> tuple[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=root, capture_output=True, text=True, env=_env(), check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


@pytest.fixture
def project(git_repo: GitRepo) -> GitRepo:
    git_repo.write("app.py", "def f():\n    return 1\n\n\ndef g():\n    return [2]\n")
    git_repo.commit("app")
    git_repo.write("app.py", "def f():\n    return 1\n\n\ndef g():\n    return [3]\n")
    git_repo.commit("change g")
    return git_repo


def test_a_warm_cache_answers_without_typer_rich_or_sqlalchemy(project: GitRepo) -> None:
    root = project.root
    uncached, _ = _blame(root, "blame", "app.py", "--json", "--no-cache")
    cold, cold_err = _blame(root, "blame", "app.py", "--json")  # fills the cache through the store
    assert "sqlalchemy" in cold_err
    warm, warm_err = _blame(root, "blame", "app.py", "--json")
    assert warm_err.strip() == "loaded:"
    assert json.loads(warm) == json.loads(cold) == json.loads(uncached)
    rows, rows_err = _blame(root, "blame", "app.py")
    assert rows_err.strip() == "loaded:" and len(rows.splitlines()) == 6
    through_typer, typer_err = _blame(root, "blame", "--", "app.py")
    assert "typer" in typer_err and through_typer == rows


def test_the_warm_cache_is_read_with_sqlite3_and_written_through_the_store(project: GitRepo) -> None:
    url = load_config(project.root).database_url
    with open_cache(url) as cache:  # no database yet: the store makes one
        assert not isinstance(cache, LiteCache)
        with Attributor(project.root, cache=cache) as engine:
            engine.attribute_path("app.py")
            assert engine.stats == {"blamed": 1, "cached": 0, "skipped": 0}
    with open_cache(url) as cache:
        assert isinstance(cache, LiteCache)
        with Attributor(project.root, cache=cache) as engine:
            engine.attribute_path("app.py")
            assert engine.stats == {"blamed": 0, "cached": 1, "skipped": 0}
        with Attributor(project.root, "HEAD~1", cache=cache) as engine:  # another blob: blamed, then saved
            engine.attribute_path("app.py")
            assert engine.stats["blamed"] == 1
    with open_cache(url) as cache, Attributor(project.root, "HEAD~1", cache=cache) as engine:
        engine.attribute_path("app.py")
        assert engine.stats["cached"] == 1
