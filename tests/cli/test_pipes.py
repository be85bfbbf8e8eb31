"""The command line behaves like the tools people pipe: results on stdout, plain rows when piped,
data never read as markup or emoji -- checked on the real CLI in subprocesses, piped and in a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import GitRepo
from tests.runtime_records import aggregate, exception

from codewitness import ledger
from codewitness.config import load_config
from codewitness.ingest import ingest_batch
from codewitness.model import Generation
from codewitness.store import open_store

LONG = "shop.pricing." + "a_function_name_long_enough_to_wrap_" * 3 + "total"
MARKUP = "shop.[bold]odd[/bold].f"
MESSAGE = "failed at shop/pricing.py:100: see :thumbs_up: and [red]this[/red]"
CODE = "    return '[bold]not bold[/bold] :100: " + "x" * 100 + "'"
MODEL = "model-[bold]:100:"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def project(git_repo: GitRepo) -> Path:
    root = git_repo.root
    git_repo.write("shop/__init__.py", "")
    git_repo.write("shop/pricing.py", f"def f():\n{CODE}\n")
    git_repo.commit("shop")
    with open_store(load_config(root).database_url) as store:
        ingest_batch(
            store,
            [
                aggregate(LONG, [1_000_000] * 5, {"ValueError": 1}),
                aggregate(MARKUP, [2_000_000] * 3),
                aggregate("shop.pricing.plain", [500_000] * 7, origin="human"),
                exception(MARKUP, MESSAGE),
            ],
            source="test",
        )
        ledger.record(store, Generation.create(agent="api", model=MODEL, prompt="p", output="o"))
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    env.update(COLUMNS="80", LINES="40", TERM="xterm-256color")
    return env


def piped(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def in_a_terminal(root: Path, *args: str) -> str:
    """What a person sees: stdout is a pseudo-terminal 80 columns wide."""
    leader, follower = pty.openpty()
    chunks = []
    with subprocess.Popen(
        [sys.executable, "-m", "codewitness", *args],
        cwd=root,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as proc:
        os.close(follower)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return b"".join(chunks).decode("utf-8", "replace")


def test_piped_runtime_is_one_plain_row_per_function(project: Path) -> None:
    out = piped(project, "runtime").stdout
    assert "\x1b[" not in out
    rows = [line for line in out.splitlines() if line.startswith("shop.")]
    assert [row.split()[0] for row in rows] == [LONG, MARKUP, "shop.pricing.plain"]
    assert max(len(row) for row in rows) > 80, "rows are not cut or wrapped to the 80 columns"
    header = out.splitlines()[0]
    assert header.split() == ["function", "origin", "calls", "errors", "p50", "ms", "p95", "ms", "p99", "ms"]
    assert header.index("calls") == rows[0].index(" 5 ") + 1 - (len("calls") - 1), "columns are aligned"


def test_data_prints_literally_never_as_markup_or_emoji(project: Path) -> None:
    runtime = piped(project, "runtime").stdout
    assert MARKUP in runtime and MESSAGE in runtime
    assert "\N{HUNDRED POINTS SYMBOL}" not in runtime and "\N{THUMBS UP SIGN}" not in runtime
    blame = piped(project, "blame", "shop/pricing.py").stdout
    (line2,) = [line for line in blame.splitlines() if line.lstrip().startswith("2 ")]
    assert line2.endswith("| " + CODE)
    generations = piped(project, "generations", "list").stdout
    assert MODEL in generations and "\N{HUNDRED POINTS SYMBOL}" not in generations


def test_a_terminal_gets_colour_and_still_no_markup_or_emoji(project: Path) -> None:
    shown = in_a_terminal(project, "runtime")
    assert ANSI.search(shown), "a terminal gets colour"
    plain = ANSI.sub("", shown)
    assert MARKUP in plain and MESSAGE in plain
    assert "\N{HUNDRED POINTS SYMBOL}" not in plain and "\N{THUMBS UP SIGN}" not in plain
    blame = ANSI.sub("", in_a_terminal(project, "blame", "shop/pricing.py"))
    assert CODE in blame and "\N{HUNDRED POINTS SYMBOL}" not in blame


def test_results_on_stdout_notes_on_stderr(project: Path) -> None:
    proc = piped(project, "runtime", "--top", "1")
    assert LONG in proc.stdout and "showing 1 of 3 functions" in proc.stderr
    proc = piped(project, "generations", "list")
    assert MODEL in proc.stdout and "1 generation(s)" in proc.stderr
    proc = piped(project, "report", "shop")
    assert "shop" in proc.stdout and proc.stdout.lstrip().startswith("#")
