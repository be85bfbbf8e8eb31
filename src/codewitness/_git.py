"""Running git: one place that turns a missing git or a failed command into :class:`GitError`.

Example:
    >>> root = repo_root(Path("."))  # doctest: +SKIP
    >>> run_git(["rev-parse", "HEAD"], cwd=root).strip()  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from codewitness.errors import GitError

__all__ = ["git_available", "repo_root", "run_git"]


def git_available() -> bool:
    """True when a ``git`` executable is on the PATH."""
    return shutil.which("git") is not None


def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    input: str | bytes | None = None,
    check: bool = True,
    text: bool = True,
) -> str:
    """Run ``git ARGS`` in ``cwd`` and return its standard output.

    Args:
        args: the git arguments, without ``git``.
        cwd: the folder to run in.
        input: standard input for git.
        check: raise :class:`GitError` on a non-zero exit (otherwise return the output anyway).
        text: decode output as UTF-8 (with replacement); ``False`` returns ``latin-1`` text of the bytes.

    Raises:
        GitError: git is not installed, or it failed and ``check`` is true.
    """
    if not git_available():
        raise GitError("git is not installed or not on PATH; install git and try again")
    data = input.encode("utf-8") if isinstance(input, str) else input
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=data,
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        raise GitError(f"cannot run git in {cwd}: {exc.strerror}") from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {detail}")
    return proc.stdout.decode("utf-8", "replace") if text else proc.stdout.decode("latin-1")


def repo_root(path: Path) -> Path:
    """The top folder of the git work tree containing ``path``.

    Raises:
        GitError: ``path`` is not inside a git work tree.
    """
    folder = path if path.is_dir() else path.parent
    try:
        out = run_git(["rev-parse", "--show-toplevel"], cwd=folder)
    except GitError:
        if not git_available():
            raise  # "git is not installed", not "not a repository"
        raise GitError(f"{path} is not inside a git repository (run `git init` first)") from None
    return Path(out.strip())
