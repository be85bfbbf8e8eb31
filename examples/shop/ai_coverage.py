"""The AI-coverage table on the shop's tests, in a throwaway git repository.

The shop lives inside the codewitness repository, where nothing attributes its functions to an
agent. This script copies it into a fresh repository in a temp folder, commits it, and attaches a
codewitness note built from the manifest (:func:`make_manifest.build`): the lines of every
AI-written function are ``ai``; for a function the agent wrote only partly (``ai_share`` below 1)
the last lines are ``mixed`` (AI lines a person edited); everything else is ``human``. Then it
runs the shop's tests with pytest-cov and the codewitness plugin::

    python examples/shop/ai_coverage.py            # prints pytest's output, table included
    python examples/shop/ai_coverage.py --json out.json

It needs ``codewitness[report]`` and pytest-cov (both in ``codewitness[test]``) and git.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_manifest  # noqa: E402

from codewitness.attribution.notes import CommitNote, NoteEntry, compact_lines, write_note  # noqa: E402
from codewitness.model import Manifest  # noqa: E402


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def note_from_manifest(manifest: Manifest, prefix: str) -> CommitNote:
    """One note for a commit that added the whole shop: the manifest's spans as ``ai`` / ``mixed`` lines.

    Args:
        manifest: the shop's manifest (paths start with ``prefix``).
        prefix: the manifest's path prefix to strip (``examples/shop/``).
    """
    ai: dict[str, list[int]] = {}
    mixed: dict[str, list[int]] = {}
    meta: dict[str, tuple[tuple[str, ...], str | None, str | None]] = {}
    for function in manifest.functions:
        path = function.path.removeprefix(prefix)
        lines = list(range(function.start_line, function.end_line + 1))
        kept = math.ceil(len(lines) * function.ai_share)
        ai.setdefault(path, []).extend(lines[:kept])
        mixed.setdefault(path, []).extend(lines[kept:])
        meta[path] = (
            function.generation_ids,
            function.agents[0] if function.agents else None,
            function.models[0] if function.models else None,
        )
    files: dict[str, tuple[NoteEntry, ...]] = {}
    for path, (gens, agent, model) in meta.items():
        entries = [NoteEntry("ai", compact_lines(ai[path]), gens, agent=agent, model=model)]
        if mixed[path]:
            entries.append(NoteEntry("mixed", compact_lines(mixed[path]), gens, agent=agent, model=model))
        files[path] = tuple(entries)
    return CommitNote(files=files)


def build_repo(target: Path) -> Path:
    """Copy the shop into ``target``, commit it and attach the note; returns the repository root."""
    repo = target / "shop-repo"
    repo.mkdir(parents=True)
    for name in ("shop", "tests"):
        shutil.copytree(HERE / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Shop Developer")
    _git(repo, "config", "user.email", "dev@shop.example")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "the shop")
    write_note(repo, "HEAD", note_from_manifest(make_manifest.build(), "examples/shop/"))
    return repo


def run(json_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Build the repository in a temp folder and run the shop's tests there with the plugin."""
    with tempfile.TemporaryDirectory(prefix="codewitness-shop-") as tmp:
        repo = build_repo(Path(tmp))
        args = ["--cov=shop", "--cov-report=", "--codewitness-coverage", "-p", "no:cacheprovider", "tests"]
        if json_path is not None:
            args += ["--codewitness-json", str(json_path.resolve())]
        env = {**os.environ, "COVERAGE_FILE": str(Path(tmp) / ".coverage"), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTEST_ADDOPTS", None)
        return subprocess.run(
            [sys.executable, "-m", "pytest", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="Also write the AI coverage as JSON here.")
    done = run(parser.parse_args().json)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
