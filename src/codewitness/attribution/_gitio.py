"""Fast, batched reads from a git repository for the attribution engine.

One ``git cat-file --batch`` process serves every object read of a run (commits, note blobs,
file blobs), so reading 2,000 commit messages costs one process, not 2,000. ``git blame
--porcelain`` output is parsed here too.

Example:
    >>> with CatFile(Path(".")) as cat:  # doctest: +SKIP
    ...     kind, data = cat.read("HEAD")
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from codewitness._git import git_available, run_git
from codewitness.errors import GitError

__all__ = [
    "BlameRow",
    "CatFile",
    "CommitInfo",
    "TreeEntry",
    "blame_porcelain",
    "list_notes",
    "list_tree",
    "parse_commit",
    "parse_porcelain",
    "write_notes",
]


class CatFile:
    """A long-lived ``git cat-file --batch`` reader; thread-safe, one request at a time."""

    def __init__(self, root: Path) -> None:
        if not git_available():
            raise GitError("git is not installed or not on PATH; install git and try again")
        self._proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.Lock()

    def read(self, name: str) -> tuple[str, bytes] | None:
        """``(type, content)`` of the object ``name`` (a sha or ``rev:path``), or ``None`` if missing."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        if "\n" in name:
            return None
        with self._lock:
            self._proc.stdin.write(name.encode("utf-8") + b"\n")
            self._proc.stdin.flush()
            header = self._proc.stdout.readline()
            if not header:
                raise GitError("git cat-file stopped unexpectedly")
            parts = header.split()
            if len(parts) != 3:  # "<name> missing" / "ambiguous"
                return None
            size = int(parts[2])
            data = self._proc.stdout.read(size)
            self._proc.stdout.read(1)  # the newline after the content
        return parts[1].decode("ascii"), data

    def close(self) -> None:
        """End the reader process."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc.wait()

    def __enter__(self) -> CatFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True)
class CommitInfo:
    """What attribution needs of one commit."""

    sha: str
    author: str  # "Name <email>"
    author_time: int
    committer: str
    message: str
    parents: tuple[str, ...] = ()

    @property
    def author_name(self) -> str:
        """The author's name without the email."""
        return self.author.split(" <", 1)[0]


def _person(value: str) -> tuple[str, int]:
    # "Name <email> 1700000000 +0000" -> ("Name <email>", 1700000000)
    head, _, tail = value.rpartition("> ")
    stamp = tail.split(" ", 1)[0]
    return head + ">", int(stamp) if stamp.isdigit() else 0


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    """Parse the raw text of a commit object."""
    text = raw.decode("utf-8", "replace")
    headers, _, message = text.partition("\n\n")
    author, committer, when = "", "", 0
    parents: list[str] = []
    for line in headers.splitlines():
        key, _, value = line.partition(" ")
        if key == "author":
            author, when = _person(value)
        elif key == "committer":
            committer, _ = _person(value)
        elif key == "parent":
            parents.append(value.strip())
    return CommitInfo(
        sha=sha, author=author, author_time=when, committer=committer, message=message, parents=tuple(parents)
    )


@dataclass(frozen=True)
class TreeEntry:
    """One file of a tree: path, git mode and object id."""

    path: str
    mode: str
    oid: str

    @property
    def is_submodule(self) -> bool:
        """A gitlink (mode 160000): a commit of another repository, not a file."""
        return self.mode == "160000"

    @property
    def is_symlink(self) -> bool:
        """A symbolic link (mode 120000)."""
        return self.mode == "120000"


def list_tree(root: Path, commit: str, paths: Iterable[str] = ()) -> list[TreeEntry]:
    """Every file of ``commit`` (recursively), optionally limited to ``paths``."""
    out = run_git(["ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths], cwd=root)
    entries = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, _kind, oid = meta.split(" ")
        entries.append(TreeEntry(path=path, mode=mode, oid=oid))
    return entries


def list_notes(root: Path, ref: str) -> dict[str, str]:
    """``{commit sha: note blob sha}`` for every note under ``ref`` (empty when the ref is absent)."""
    exists = run_git(["rev-parse", "--verify", "--quiet", ref], cwd=root, check=False).strip()
    if not exists:
        return {}
    out = run_git(["notes", "--ref", ref, "list"], cwd=root)
    notes: dict[str, str] = {}
    for line in out.splitlines():
        blob, _, commit = line.partition(" ")
        if commit:
            notes[commit.strip()] = blob.strip()
    return notes


@dataclass(frozen=True)
class BlameRow:
    """One line of a blamed file: the commit that introduced it and its path/line there."""

    commit: str
    orig_path: str
    orig_line: int


def parse_porcelain(text: str) -> list[BlameRow]:
    """Parse ``git blame --porcelain`` output into one :class:`BlameRow` per final line, in order.

    The porcelain format prints a commit's details (and its ``filename``) only the first time
    the commit appears, or again when the commit touched the file under more than one path, so
    the last filename seen per commit is remembered.
    """
    rows: list[BlameRow] = []
    filenames: dict[str, str] = {}
    commit = ""
    orig = 0
    for line in _lines(text):
        if not line:
            continue
        if line[0] == "\t":
            rows.append(BlameRow(commit, filenames.get(commit, ""), orig))
            continue
        header = _HEADER.match(line)
        if header is not None:
            commit, orig = header.group(1), int(header.group(2))
        elif line.startswith("filename "):
            filenames[commit] = _unquote(line[9:])
    return rows


def _lines(text: str) -> Iterator[str]:
    # Content lines may hold any character but "\n"; str.splitlines would split on others too.
    return iter(text.split("\n"))


_HEADER = re.compile(r"([0-9a-f]{40}) (\d+) \d+")


def _unquote(name: str) -> str:
    # git C-quotes unusual path names: "a\tb.py" -> a<TAB>b.py; octal escapes are UTF-8 bytes.
    if not (name.startswith('"') and name.endswith('"')):
        return name
    body = name[1:-1]
    raw = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, '"': 34, "\\": 92, "a": 7, "b": 8, "f": 12, "r": 13, "v": 11}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in simple:
                raw.append(simple[nxt])
                i += 2
                continue
            if nxt.isdigit():
                raw.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
        raw.extend(ch.encode("utf-8"))
        i += 1
    return raw.decode("utf-8", "replace")


def blame_porcelain(root: Path, commit: str, path: str, *, detect_moves: bool = True) -> list[BlameRow]:
    """Blame ``path`` at ``commit``; one row per line of the file.

    ``detect_moves`` adds ``-M`` so a block moved within the file keeps its original commit.

    Raises:
        GitError: git failed (for example the path is not a file at ``commit``).
    """
    args = ["blame", "--porcelain", "--root"]
    if detect_moves:
        args.append("-M")
    out = run_git([*args, commit, "--", path], cwd=root)
    return parse_porcelain(out)


def write_notes(root: Path, ref: str, notes: dict[str, str], message: str) -> None:
    """Attach many notes under ``ref`` in one ``git fast-import`` commit (replacing existing ones).

    One process for any number of notes: ``git notes add`` costs a process and a notes commit each.
    """
    if not notes:
        return
    tip = run_git(["rev-parse", "--verify", "--quiet", ref], cwd=root, check=False).strip()
    chunks: list[bytes] = []
    msg = message.encode("utf-8")
    chunks.append(f"commit {ref}\n".encode())
    chunks.append(b"committer codewitness <codewitness@localhost> now\n")
    chunks.append(b"data %d\n%s\n" % (len(msg), msg))
    if tip:
        chunks.append(f"from {tip}\n".encode())
    for commit, text in notes.items():
        body = text.encode("utf-8")
        chunks.append(f"N inline {commit}\n".encode())
        chunks.append(b"data %d\n%s\n" % (len(body), body))
    chunks.append(b"done\n")
    run_git(["fast-import", "--quiet", "--date-format=now", "--done"], cwd=root, input=b"".join(chunks))
