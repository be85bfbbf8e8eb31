"""Git: every call of git and every parser of its output, in one place.

One function runs git (:func:`run_git`, :func:`git_bytes`; :class:`CatFile` keeps one
``git cat-file --batch`` process for many object reads) and turns a missing git or a failed
command into :class:`~codewitness.errors.GitError`. The parsers of git's output live beside the
calls: quoted path names (:func:`unquote_path`), diff hunks (:func:`added_lines`), commit objects
(:func:`parse_commit`), ``git blame --porcelain`` (:func:`parse_porcelain`), trees and notes.

Example:
    >>> unquote_path('"tab\\\\there \\\\303\\\\251.py"')
    'tab\\there é.py'
    >>> root = repo_root(Path("."))  # doctest: +SKIP
    >>> resolve(root, "HEAD")  # doctest: +SKIP
    '9c1e...'
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from codewitness.errors import GitError

__all__ = [
    "EMPTY_TREE",
    "BlameRow",
    "CatFile",
    "CommitInfo",
    "PathCommit",
    "TreeEntry",
    "add_trailers",
    "added_lines",
    "blame_porcelain",
    "blob_text",
    "config_values",
    "git_available",
    "git_bytes",
    "git_path",
    "list_notes",
    "list_tree",
    "log_paths",
    "origin_url",
    "parse_commit",
    "parse_porcelain",
    "repo_root",
    "resolve",
    "run_git",
    "unquote_path",
    "write_notes",
]

#: The id of git's empty tree: what a root commit is compared with.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


# -- running git --------------------------------------------------------------------------------


def git_available() -> bool:
    """True when a ``git`` executable is on the PATH."""
    return shutil.which("git") is not None


def _not_installed() -> GitError:
    return GitError("git is not installed or not on PATH; install git and try again")


def git_bytes(
    args: Sequence[str],
    *,
    cwd: Path | str,
    input: str | bytes | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> bytes:
    """Run ``git ARGS`` in ``cwd`` and return its standard output as bytes.

    Args:
        args: the git arguments, without ``git``.
        cwd: the folder to run in.
        input: standard input for git (text is sent as UTF-8).
        check: raise :class:`GitError` on a non-zero exit (otherwise return the output anyway).
        timeout: give up after this many seconds (a :class:`GitError`).

    Raises:
        GitError: git is not installed, it timed out, or it failed and ``check`` is true.
    """
    if not git_available():
        raise _not_installed()
    data = input.encode("utf-8") if isinstance(input, str) else input
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args[:2])} took longer than {timeout} s") from None
    except OSError as exc:
        raise GitError(f"cannot run git in {cwd}: {exc.strerror}") from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {detail}")
    return proc.stdout


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | str,
    input: str | bytes | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> str:
    """Run ``git ARGS`` in ``cwd`` and return its standard output, decoded as UTF-8 (with replacement).

    Arguments and errors as :func:`git_bytes`.
    """
    return git_bytes(args, cwd=cwd, input=input, check=check, timeout=timeout).decode("utf-8", "replace")


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


def resolve(root: Path, rev: str, *, commit: bool = True) -> str | None:
    """The full object id ``rev`` names (``rev-parse --verify``), or ``None`` when it names nothing.

    Args:
        root: the repository.
        rev: a revision (``HEAD``, ``main~2``, a sha prefix) or, with ``commit=False``, any ref.
        commit: peel to a commit (``rev^{commit}``): a tag gives its commit, a blob gives ``None``.

    Raises:
        GitError: git is not installed.
    """
    spec = f"{rev}^{{commit}}" if commit else rev
    return run_git(["rev-parse", "--verify", "--quiet", spec], cwd=root, check=False).strip() or None


def git_path(root: Path, name: str) -> Path:
    """Where git keeps ``name`` (``hooks``, ``shallow``, ``rebase-merge``) for this work tree, absolute."""
    path = Path(run_git(["rev-parse", "--git-path", name], cwd=root).strip())
    return path if path.is_absolute() else root / path


def config_values(root: Path, key: str) -> list[str]:
    """Every value of the git setting ``key`` (``config --get-all``); empty when it is not set."""
    return [line for line in run_git(["config", "--get-all", key], cwd=root, check=False).splitlines() if line]


def blob_text(root: Path | str, rev: str, path: str, *, timeout: float | None = None) -> str | None:
    """The UTF-8 text of ``path`` at ``rev`` (``""``: the staged text); ``None`` when there is none.

    ``None`` too for a binary or non-UTF-8 file, and when git is missing or fails.
    """
    try:
        raw = git_bytes(["cat-file", "blob", f"{rev}:{path}"], cwd=root, timeout=timeout)
    except GitError:
        return None
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


# -- quoted path names --------------------------------------------------------------------------

#: git's one-letter escapes in quoted names (``quote_c_style``).
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_OCTAL = frozenset("01234567")


def unquote_path(text: str) -> str:
    """A path name as git prints it, decoded.

    Git wraps a name in double quotes when it holds a quote, a backslash or a control character
    (and, with ``core.quotePath`` on, any byte above 0x7f); inside, ``\\t``-style escapes and
    three-digit octal bytes stand for those bytes, and the bytes are UTF-8. A name without
    quotes is returned as it is.

    Raises:
        ValueError: a quoted name that is malformed or whose bytes are not UTF-8.
    """
    if not text.startswith('"'):
        return text
    if len(text) < 2 or not text.endswith('"'):
        raise ValueError(f"unterminated quoted path {text!r}")
    body = text[1:-1]
    raw = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '"':
            raise ValueError(f"unescaped quote in quoted path {text!r}")
        if ch != "\\":
            raw += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ESCAPES:
            raw.append(_ESCAPES[nxt])
            i += 2
            continue
        digits = body[i + 1 : i + 4]
        if len(digits) == 3 and set(digits) <= _OCTAL and digits[0] in "0123":
            raw.append(int(digits, 8))
            i += 4
            continue
        raise ValueError(f"unknown escape in quoted path {text!r}")
    return raw.decode("utf-8")


# -- diffs --------------------------------------------------------------------------------------

_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def added_lines(root: Path, base: str, target: str | None = None) -> dict[str, set[int]]:
    """The lines each file gained from ``base`` to ``target`` (the work tree when ``None``).

    Line numbers are those of ``target``. Every file the diff shows with a new side is a key,
    also when it only lost lines (an empty set); deleted, binary and untracked files are not.
    Renames are not followed (a renamed file is a new file). The diff ignores the user's
    diff settings (prefixes, external drivers, colour) and quotes every unusual name, so each
    name is read back exactly.

    Raises:
        GitError: git failed (for example ``base`` is not a revision).
    """
    args = [
        "-c",
        "core.quotePath=true",
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-renames",
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "-U0",
        base,
        *([target] if target is not None else []),
        "--",
    ]
    return parse_added_lines(git_bytes(args, cwd=root).decode("utf-8", "replace"))


def parse_added_lines(patch: str) -> dict[str, set[int]]:
    """The new-side line numbers of each file in a unified diff with ``b/`` prefixes (see :func:`added_lines`).

    Hunk bodies are skipped by the line counts of their headers, so a content line that looks
    like a header (an added ``++ x`` shows as ``+++ x``) is never read as one. A file whose
    name cannot be decoded is left out.
    """
    result: dict[str, set[int]] = {}
    current: set[int] | None = None
    body = 0  # lines of the current hunk still to skip
    for line in patch.split("\n"):
        if body:
            if not line.startswith("\\"):  # "\ No newline at end of file" is not a line of the hunk
                body -= 1
            continue
        if line.startswith("diff --git "):
            current = None
        elif line.startswith("+++ "):
            current = None
            try:
                name = unquote_path(line[4:].rstrip("\t"))  # git adds a tab after a name holding a space
            except ValueError:
                continue
            if name.startswith("b/"):
                current = result.setdefault(name[2:], set())
        elif line.startswith("@@ "):
            match = _HUNK.match(line)
            if match is None:
                continue
            old = int(match.group(1)) if match.group(1) is not None else 1
            start = int(match.group(2))
            new = int(match.group(3)) if match.group(3) is not None else 1
            body = old + new
            if current is not None:
                current.update(range(start, start + new))
    return result


# -- objects ------------------------------------------------------------------------------------


class CatFile:
    """A long-lived ``git cat-file --batch`` reader; thread-safe, one request at a time.

    Reading 2,000 commits costs one process this way, not 2,000.
    """

    def __init__(self, root: Path) -> None:
        if not git_available():
            raise _not_installed()
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


# -- notes --------------------------------------------------------------------------------------


def list_notes(root: Path, ref: str) -> dict[str, str]:
    """``{commit sha: note blob sha}`` for every note under ``ref`` (empty when the ref is absent)."""
    if resolve(root, ref, commit=False) is None:
        return {}
    out = run_git(["notes", "--ref", ref, "list"], cwd=root)
    notes: dict[str, str] = {}
    for line in out.splitlines():
        blob, _, commit = line.partition(" ")
        if commit:
            notes[commit.strip()] = blob.strip()
    return notes


def write_notes(root: Path, ref: str, notes: dict[str, str], message: str) -> None:
    """Attach many notes under ``ref`` in one ``git fast-import`` commit (replacing existing ones).

    One process for any number of notes: ``git notes add`` costs a process and a notes commit each.
    """
    if not notes:
        return
    tip = resolve(root, ref, commit=False)
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


# -- blame --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlameRow:
    """One line of a blamed file: the commit that introduced it and its path/line there."""

    commit: str
    orig_path: str
    orig_line: int


_BLAME_HEADER = re.compile(r"([0-9a-f]{40}) (\d+) \d+")


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
        header = _BLAME_HEADER.match(line)
        if header is not None:
            commit, orig = header.group(1), int(header.group(2))
        elif line.startswith("filename "):
            name = line[9:]
            try:
                filenames[commit] = unquote_path(name)
            except ValueError:
                filenames[commit] = name  # not UTF-8: no record can name it anyway
    return rows


def _lines(text: str) -> Iterator[str]:
    # Content lines may hold any character but "\n"; str.splitlines would split on others too.
    return iter(text.split("\n"))


def blame_porcelain(root: Path, commit: str | None, path: str, *, detect_moves: bool = True) -> list[BlameRow]:
    """Blame ``path`` at ``commit`` (the work tree when ``None``); one row per line of the file.

    ``detect_moves`` adds ``-M`` so a block moved within the file keeps its original commit.

    Raises:
        GitError: git failed (for example the path is not a file at ``commit``).
    """
    args = ["blame", "--porcelain", "--root"]
    if detect_moves:
        args.append("-M")
    out = run_git([*args, *([commit] if commit is not None else []), "--", path], cwd=root)
    return parse_porcelain(out)


# -- history of chosen paths (change markers) -----------------------------------------------------


@dataclass(frozen=True)
class PathCommit:
    """A commit that changed some of the paths asked about: when, by whom, which of them."""

    sha: str
    time: str  # ISO 8601, the committer's date
    author: str
    subject: str
    files: tuple[str, ...]


def parse_log_paths(text: str) -> list[PathCommit]:
    """Parse ``git log -z --format=%x1e%H%x00%cI%x00%an%x00%s --name-only`` output."""
    found: list[PathCommit] = []
    for record in text.split("\x1e"):
        if not record.strip("\x00\n"):
            continue
        fields = record.split("\x00")
        if len(fields) < 4:
            continue
        sha, when, author = fields[0].strip(), fields[1], fields[2]
        subject, _, first = fields[3].partition("\n")
        names = [first.strip("\n"), *(f.strip("\n") for f in fields[4:])]
        found.append(PathCommit(sha, when, author, subject, tuple(n for n in names if n)))
    return found


def log_paths(root: Path, since: str, globs: Sequence[str], rev: str = "HEAD") -> list[PathCommit]:
    """The commits of ``rev`` since ``since`` (ISO 8601) that changed a file matching one of ``globs``
    (git's ``:(glob)`` pathspecs: ``**/`` any folders), newest first; empty outside a repository."""
    if not globs:
        return []
    specs = [f":(glob){g}" for g in globs]
    out = run_git(
        ["log", "-z", f"--since={since}", "--format=%x1e%H%x00%cI%x00%an%x00%s", "--name-only", rev, "--", *specs],
        cwd=root,
        check=False,
    )
    return parse_log_paths(out)


def origin_url(root: Path | str) -> str | None:
    """The URL of the ``origin`` remote, without credentials; ``None`` when there is none."""
    out = run_git(["config", "--get", "remote.origin.url"], cwd=root, check=False).strip()
    if not out:
        return None
    scheme, sep, rest = out.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]  # https://user:token@host/... -> https://host/...
    return f"{scheme}{sep}{rest}" if sep else out


def add_trailers(root: Path | str, message_file: Path | str, trailers: Sequence[tuple[str, str]]) -> None:
    """Add ``(key, value)`` trailers to a commit message file in place (one not already there).

    Raises:
        GitError: git failed.
    """
    args = ["interpret-trailers", "--in-place", "--if-exists", "addIfDifferent"]
    for key, value in trailers:
        args += ["--trailer", f"{key}: {value}"]
    run_git([*args, str(message_file)], cwd=root)
