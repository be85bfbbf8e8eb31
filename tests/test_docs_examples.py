"""Every shell example marked runnable in README.md and docs/ runs, as written, and shows what the docs show.

A fenced block whose info string has the word ``runnable`` is run (the first word, ``console`` or
``sh``, is the language; GitHub shows the block as usual):

* ```` ```console runnable ```` -- lines starting ``$ `` are commands (a line ending in ``\\`` goes on);
  the lines after a command, up to the next one, are its output as the docs show it: each must
  appear, in order, among the lines the command printed (``...`` in a line stands for any text; a
  line of only ``...`` for any lines);
* ```` ```sh runnable ```` -- every line is a command (``# ...`` after it is a comment).

The words after ``runnable`` choose where the block runs: ``demo`` (the default: a copy of the
project ``codewitness demo`` builds, one copy per document, so a document's blocks run in order on
the same project) or ``existing`` (a small repository with a history and no codewitness, as a new
user's own project: one per document). ``exit=0,1`` allows other exit codes than 0 for the
block's commands. Commands run with bash, in the sandbox, with this environment's ``codewitness``
and ``python`` first on PATH, a home folder of their own and no ``CODEWITNESS_*`` variables; a
``cd`` carries over to the next command. ``/path/to/codewitness`` is this checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)


@dataclass
class Command:
    """One command of a runnable block, with the output lines the docs show for it."""

    text: str
    line: int
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    document: Path
    line: int
    sandbox: str
    exits: frozenset[int]
    commands: list[Command]


def _commands(language: str, body: str, first_line: int) -> list[Command]:
    found: list[Command] = []
    pending = ""
    for offset, raw in enumerate(body.splitlines()):
        if language == "console" and not pending and not raw.startswith("$ "):
            if found and raw.strip():
                found[-1].shown.append(raw.rstrip())
            continue
        text = raw[2:] if language == "console" and not pending else raw
        if not text.strip():
            continue
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1] + " "
            continue
        found.append(Command(pending + text, first_line + offset))
        pending = ""
    return found


def runnable_blocks(document: Path) -> list[Block]:
    """The runnable blocks of one Markdown file, in order."""
    text = document.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        words = match.group("info").split()
        if len(words) < 2 or words[1] != "runnable":
            continue
        options = words[2:]
        sandbox = next((w for w in options if w in ("demo", "existing")), "demo")
        exits = next((w.split("=", 1)[1] for w in options if w.startswith("exit=")), "0")
        line = text.count("\n", 0, match.start()) + 2
        blocks.append(
            Block(
                document=document,
                line=line,
                sandbox=sandbox,
                exits=frozenset(int(e) for e in exits.split(",")),
                commands=_commands(words[0], match.group("body"), line),
            )
        )
    return blocks


BLOCKS = {doc: runnable_blocks(doc) for doc in DOCUMENTS}


# -- sandboxes -----------------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEWITNESS_", "GIT_"))}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Dana Developer",
            "GIT_AUTHOR_EMAIL": "dana@example.com",
            "GIT_COMMITTER_NAME": "Dana Developer",
            "GIT_COMMITTER_EMAIL": "dana@example.com",
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    return env


def _git(root: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


EXISTING_FILES = {
    "shop/__init__.py": "",
    "shop/pricing.py": textwrap.dedent(
        """\
        def total(items, coupon=None):
            gross = sum(price * qty for price, qty in items)
            if coupon == "HALF":
                return gross // 2
            return gross
        """
    ),
    "app.py": textwrap.dedent(
        """\
        from shop.pricing import total

        for _ in range(100):
            total([(1999, 2), (500, 1)])
        print("done")
        """
    ),
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1"\n',
}


def make_existing(root: Path, env: dict[str, str]) -> None:
    """A project with history, none of it from codewitness: a person's commits and one an agent marked."""
    root.mkdir(parents=True)
    _git(root, env, "init", "-q", "-b", "main")
    for path in ("shop/__init__.py", "app.py", "pyproject.toml"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(EXISTING_FILES[path], encoding="utf-8")
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-q", "-m", "Start the shop")
    (root / "shop/pricing.py").write_text(EXISTING_FILES["shop/pricing.py"], encoding="utf-8")
    _git(root, env, "add", "-A")
    _git(
        root,
        env,
        "commit",
        "-q",
        "-m",
        "Add pricing\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
    )


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    target = tmp_path_factory.mktemp("docs-demo") / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "codewitness", "demo", "--dir", str(target)],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def _matches(shown: list[str], printed: list[str]) -> str | None:
    """``None`` when every shown line appears among the printed ones, in order; else the first missing one."""
    position = 0
    for expected in (line for line in shown if line.strip() and line.strip() != "..."):  # "..." alone: any lines
        pattern = re.compile(".*".join(re.escape(part) for part in expected.strip().split("...")))
        while position < len(printed) and not pattern.fullmatch(printed[position].strip()):
            position += 1
        if position == len(printed):
            return expected
        position += 1
    return None


def _run_document(document: Path, demo: Path | None, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    sandboxes: dict[str, Path] = {}
    for block in BLOCKS[document]:
        if block.sandbox not in sandboxes:
            root = tmp_path / block.sandbox
            if block.sandbox == "demo":
                assert demo is not None
                shutil.copytree(demo, root, symlinks=True)
            else:
                make_existing(root, env)
            sandboxes[block.sandbox] = root
        cwd = sandboxes[block.sandbox]
        for command in block.commands:
            where = f"{document.relative_to(ROOT)}:{command.line}: $ {command.text}"
            text = command.text.replace("/path/to/codewitness", str(ROOT))
            marker = tmp_path / "cwd"
            done = subprocess.run(
                ["bash", "-c", f'{text}\nstatus=$?\npwd > "{marker}"\nexit $status'],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            printed = (done.stdout + done.stderr).splitlines()
            assert done.returncode in block.exits, f"{where}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
            missing = _matches(command.shown, printed)
            assert missing is None, f"{where}\nthe docs show {missing!r}; it printed:\n" + "\n".join(printed)
            if marker.exists():
                cwd = Path(marker.read_text().strip())


@pytest.mark.parametrize(
    "document", [d for d in DOCUMENTS if BLOCKS[d]], ids=lambda d: str(d.relative_to(ROOT))
)
def test_the_runnable_examples_of_a_document_run_as_shown(
    document: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    needs_demo = any(b.sandbox == "demo" for b in BLOCKS[document])
    demo = request.getfixturevalue("demo_project") if needs_demo else None
    _run_document(document, demo, tmp_path)


def test_the_docs_mark_their_examples_runnable() -> None:
    # The pages a new user starts from run every shell example; the others most of theirs.
    commands = {doc.name: sum(len(b.commands) for b in BLOCKS[doc]) for doc in DOCUMENTS}
    for page in ("quickstart.md", "troubleshooting.md", "privacy.md"):
        assert commands.get(page, 0) >= 3, f"docs/{page} has too few runnable commands: {commands.get(page, 0)}"
    assert sum(commands.values()) >= 60, commands


# -- the runner itself ---------------------------------------------------------------------------


def test_the_runner_reads_commands_output_and_options(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```console runnable existing exit=0,1\n$ echo one \\\n  two\none two\n$ false\n```\n\n"
        "```console\n$ not run\n```\n\n```sh runnable\necho a   # a comment\n```\n"
    )
    first, second = runnable_blocks(page)
    assert (first.sandbox, first.exits, first.line) == ("existing", frozenset({0, 1}), 4)
    assert [(c.text, c.shown) for c in first.commands] == [("echo one    two", ["one two"]), ("false", [])]
    assert (second.sandbox, [c.text for c in second.commands]) == ("demo", ["echo a   # a comment"])


def test_shown_output_must_appear_in_order() -> None:
    printed = ["wrote x: 3 functions", "note: something", "done in 2.1 s"]
    assert _matches(["wrote x: 3 functions", "done in ... s"], printed) is None
    assert _matches(["done in ... s", "wrote x: 3 functions"], printed) == "wrote x: 3 functions"
    assert _matches(["wrote x: 4 functions"], printed) == "wrote x: 4 functions"
