"""The project's state folder, ``.codewitness/``: created owner-only and kept out of git.

Whatever creates ``.codewitness/`` first inside a git work tree (the store, ``codewitness status``,
the manifest, the merge gate's caches, ``codewitness run``'s spool) goes through
:func:`make_dirs`, which adds a ``.codewitness/`` line to the ``.gitignore`` beside it -- once:
a ``.gitignore`` that already ignores the folder is left alone. ``codewitness init`` writes the
same line itself, recorded so that ``uninstall`` can take it back; the agent hooks, which only
run after ``init`` and never write into the work tree, do not. Standard library only.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / ".git").mkdir()
    >>> make_dirs(root / ".codewitness" / "cache")
    >>> (root / ".gitignore").read_text()
    '.codewitness/\\n'
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["IGNORE_LINE", "STATE_DIR", "ignore_in_git", "ignores_state", "make_dirs"]

STATE_DIR = ".codewitness"
IGNORE_LINE = ".codewitness/"
#: Lines of a ``.gitignore`` that already keep the state folder out of git.
_IGNORING = frozenset({".codewitness", ".codewitness/", "/.codewitness", "/.codewitness/"})


def ignores_state(text: str) -> bool:
    """Whether a ``.gitignore``'s text has a line that ignores ``.codewitness/`` beside it."""
    return any(line.strip() in _IGNORING for line in text.splitlines())


def _in_work_tree(folder: Path) -> bool:
    """Whether ``folder`` is inside a git work tree (a ``.git`` folder or file above it)."""
    return any((candidate / ".git").exists() for candidate in (folder, *folder.parents))


def ignore_in_git(state: Path) -> bool:
    """Add ``.codewitness/`` to the ``.gitignore`` beside ``state`` when it is in a git work tree.

    Returns whether a line was added. Never raises: a ``.gitignore`` that cannot be read or
    written (or is a symbolic link, which git does not follow either) is left as it is.
    """
    parent = state.parent
    if not _in_work_tree(parent):
        return False
    target = parent / ".gitignore"
    try:
        if target.is_symlink():
            return False
        text = target.read_text(encoding="utf-8") if target.exists() else ""
        if ignores_state(text):
            return False
        prefix = "" if not text or text.endswith("\n") else "\n"
        with target.open("a", encoding="utf-8") as handle:
            handle.write(prefix + IGNORE_LINE + "\n")
    except (OSError, UnicodeDecodeError):
        return False
    return True


def make_dirs(folder: Path, mode: int = 0o700) -> None:
    """Create ``folder`` and its missing parents (``mode``, owner-only by default).

    Each ``.codewitness`` folder this call creates inside a git work tree is added to the
    ``.gitignore`` beside it (see :func:`ignore_in_git`). When two processes race, the one whose
    ``mkdir`` created the folder writes the line.

    Raises:
        OSError: a folder cannot be created.
    """
    missing: list[Path] = []
    current = Path(folder)
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            continue
        if path.name == STATE_DIR:
            ignore_in_git(path)
