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
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from codewitness.errors import GitError

TYPE_CHECKING = False  # typing is not imported at run time: agent hooks import this module
if TYPE_CHECKING:
    from typing import TypedDict, Unpack

    class _GitOptions(TypedDict, total=False):
        """The options :func:`git_bytes` takes beside the arguments and the folder."""

        input: str | bytes | None
        check: bool
        timeout: float | None


__all__ = [
    "EMPTY_TREE",
    "FALLBACK_IDENTITY",
    "BlameRow",
    "CatFile",
    "CommitInfo",
    "FileDiff",
    "LineChange",
    "PathCommit",
    "TreeEntry",
    "add_trailers",
    "added_lines",
    "blame_porcelain",
    "blob_text",
    "blob_texts",
    "cherry_picked_from",
    "config_values",
    "dirty_paths",
    "existing_commits",
    "fetch_ref",
    "file_diffs",
    "first_parent_log",
    "for_each_ref",
    "git_available",
    "git_bytes",
    "git_path",
    "identity_args",
    "independent_tips",
    "is_ancestor",
    "last_commit_touching",
    "line_history",
    "list_notes",
    "list_tree",
    "log_paths",
    "merge_notes",
    "origin_url",
    "outside_history",
    "parse_commit",
    "parse_file_diffs",
    "parse_porcelain",
    "parse_raw_renames",
    "patch_ids",
    "push_ref",
    "read_commit",
    "reflog_subject",
    "remote_ref",
    "remotes",
    "renamed_paths",
    "repo_root",
    "resolve",
    "rev_list",
    "reverted_commit",
    "run_git",
    "squashed_commits",
    "unquote_path",
    "unset_config",
    "worktree_add",
    "worktree_remove",
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


def run_git(args: Sequence[str], *, cwd: Path | str, **options: Unpack[_GitOptions]) -> str:
    """Run ``git ARGS`` in ``cwd`` and return its standard output, decoded as UTF-8 (with replacement).

    Arguments and errors as :func:`git_bytes`.
    """
    return git_bytes(args, cwd=cwd, **options).decode("utf-8", "replace")


def first_parent_log(root: Path, rev: str, limit: int) -> list[tuple[str, int, str]]:
    """The last ``limit`` commits on ``rev``'s first-parent line, newest first: (sha, author time, subject).

    Raises:
        GitError: git failed (``rev`` names no commit, not a repository).
    """
    text = run_git(["log", "--first-parent", f"-n{limit}", "--format=%H%x00%at%x00%s", rev, "--"], cwd=root)
    out = []
    for line in text.splitlines():
        sha, _, rest = line.partition("\0")
        when, _, subject = rest.partition("\0")
        if sha and when.isdigit():
            out.append((sha, int(when), subject))
    return out


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


def unset_config(root: Path, key: str, value: str) -> bool:
    """Remove every ``key`` setting whose value is exactly ``value``; True when there was one."""
    if value not in config_values(root, key):
        return False
    run_git(["config", "--fixed-value", "--unset-all", key, value], cwd=root)
    return True


#: Who writes notes commits where git knows no one (a fresh CI container).
FALLBACK_IDENTITY = ("-c", "user.name=codewitness", "-c", "user.email=codewitness@localhost")


def identity_args(root: Path) -> tuple[str, ...]:
    """``-c user.name=... -c user.email=...`` when git has no committer identity here, else nothing.

    ``git notes add`` makes a commit and refuses to without an identity; a CI job often has none.
    """
    proc = git_bytes(["var", "GIT_COMMITTER_IDENT"], cwd=root, check=False)
    return () if proc.strip() else FALLBACK_IDENTITY


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


def blob_texts(root: Path | str, rev: str, paths: Iterable[str]) -> dict[str, str]:
    """The UTF-8 texts of ``paths`` at ``rev``, read through one ``git cat-file`` process.

    Paths that are missing at ``rev``, binary or not UTF-8 are left out.
    """
    found: dict[str, str] = {}
    wanted = [p for p in dict.fromkeys(paths) if "\n" not in p]
    if not wanted:
        return found
    with CatFile(Path(root)) as cat:
        for path in wanted:
            got = cat.read(f"{rev}:{path}")
            if got is None or got[0] != "blob" or b"\0" in got[1]:
                continue
            try:
                found[path] = got[1].decode("utf-8")
            except UnicodeDecodeError:
                continue
    return found


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
    return parse_added_lines(_diff_u0(root, ["--no-renames"], [base, *([target] if target is not None else [])]))


def _diff_u0(root: Path, detect: Sequence[str], revisions: Sequence[str]) -> str:
    """``git diff -U0`` of ``revisions`` (with ``detect``: the rename flags), as the parsers here read it.

    The diff ignores the user's diff settings (prefixes, external drivers, text conversion, colour)
    and quotes every unusual name, so each name is read back exactly.
    """
    args = [
        "-c",
        "core.quotePath=true",
        "diff",
        "--no-color",
        "--no-ext-diff",
        *detect,
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "-U0",
        *revisions,
        "--",
    ]
    return git_bytes(args, cwd=root).decode("utf-8", "replace")


def parse_added_lines(patch: str) -> dict[str, set[int]]:
    """The new-side line numbers of each file in a unified diff with ``b/`` prefixes (see :func:`added_lines`).

    The files are those :func:`parse_file_diffs` reads that have a new side and are not binary:
    a content line that looks like a header is never read as one, and a file whose name cannot
    be decoded is left out.
    """
    return {d.new_path: d.added for d in parse_file_diffs(patch) if d.new_path is not None and not d.binary}


#: One change of a file, as a unified diff's hunk header gives it: ``(old_start, old_count,
#: new_start, new_count)``, 1-based; a side with count 0 names the line before the change.
HunkHeader = tuple[int, int, int, int]


@dataclass(frozen=True)
class FileDiff:
    """One file of a diff: its path on each side (``None``: absent there) and its hunks.

    A renamed or copied file has both paths (``renamed`` / ``copied`` says which); a binary
    file has no hunks and ``binary`` set.
    """

    old_path: str | None
    new_path: str | None
    hunks: tuple[HunkHeader, ...] = ()
    binary: bool = False
    renamed: bool = False
    copied: bool = False

    @property
    def added(self) -> set[int]:
        """Line numbers of the new side that the diff adds or changes."""
        return {line for _, _, start, count in self.hunks for line in range(start, start + count)}

    @property
    def removed(self) -> set[int]:
        """Line numbers of the old side that the diff deletes or changes."""
        return {line for start, count, _, _ in self.hunks for line in range(start, start + count)}


def file_diffs(root: Path, base: str, target: str, *, renames: bool = False, copies: bool = False) -> list[FileDiff]:
    """The files that differ from ``base`` to ``target`` (two revisions), with ``-U0`` hunks.

    Args:
        root: the repository.
        base: the old revision (or :data:`EMPTY_TREE`).
        target: the new revision.
        renames: pair a deleted file with an added one of similar content (``-M``).
        copies: also find copies of files the diff modifies (``-C``; implies ``renames``).

    Raises:
        GitError: git failed (for example a revision does not exist).
    """
    detect = ["-M", "-C"] if copies else ["-M"] if renames else ["--no-renames"]
    return parse_file_diffs(_diff_u0(root, detect, [base, target]))


def renamed_paths(root: Path, base: str, target: str) -> dict[str, str]:
    """``{new path: old path}`` of the files git finds renamed from ``base`` to ``target`` (``-M``)."""
    out = run_git(["diff", "--raw", "-z", "-M", "--diff-filter=R", "--no-ext-diff", base, target, "--"], cwd=root)
    return parse_raw_renames(out)


def parse_raw_renames(raw: str) -> dict[str, str]:
    """``{new path: old path}`` of the renames in ``git diff --raw -z`` output (names are never quoted with ``-z``)."""
    fields = raw.split("\0")
    found: dict[str, str] = {}
    i = 0
    while i < len(fields):
        meta = fields[i]
        if not meta.startswith(":"):
            i += 1
            continue
        status = meta.rsplit(" ", 1)[-1]
        if status[:1] in ("R", "C") and i + 2 < len(fields):
            if status[0] == "R":
                found[fields[i + 2]] = fields[i + 1]
            i += 3
        else:
            i += 2
    return found


def _side(text: str, prefix: str) -> str | None:
    """A path of a ``---`` / ``+++`` line: ``None`` for ``/dev/null``; ``prefix`` stripped."""
    name = unquote_path(text.rstrip("\t"))  # git adds a tab after a name holding a space
    if name == "/dev/null":
        return None
    if not name.startswith(prefix):
        raise ValueError(f"unexpected path {text!r}")
    return name[len(prefix) :]


@dataclass
class _FileBlock:
    """What the headers of one ``diff --git`` block said so far."""

    sides: list[str | None] = field(default_factory=list)  # from "---" then "+++"
    moved: tuple[str, str | None, str | None] | None = None  # ("rename" | "copy", from, to)
    hunks: list[HunkHeader] = field(default_factory=list)
    binary: bool = False
    bad: bool = False

    def result(self) -> FileDiff | None:
        if self.bad:
            return None
        kind, source, target = self.moved or ("", None, None)
        if len(self.sides) == 2:
            old, new = self.sides
        elif source is not None and target is not None:
            old, new = source, target
        else:
            return None  # a mode change, or a binary file git names only in prose
        return FileDiff(old, new, tuple(self.hunks), self.binary, kind == "rename", kind == "copy")


def parse_file_diffs(patch: str) -> list[FileDiff]:
    """The files of a unified ``git diff`` with ``a/`` and ``b/`` prefixes (see :func:`file_diffs`).

    Hunk bodies are skipped by the line counts of their headers.
    Names come from the ``---`` / ``+++`` lines, or from the ``rename``/``copy from``/``to``
    lines of a file whose content did not change. A block with neither (a mode change, a binary
    file that was not moved) and a file whose name cannot be decoded are left out.
    """
    result: list[FileDiff] = []
    block: _FileBlock | None = None
    body = 0  # lines of the current hunk still to skip

    def close() -> None:
        found = block.result() if block is not None else None
        if found is not None:
            result.append(found)

    for line in patch.split("\n"):
        if body:
            if not line.startswith("\\"):  # "\ No newline at end of file" is not a line of the hunk
                body -= 1
            continue
        if line.startswith("diff --git "):
            close()
            block = _FileBlock()
            continue
        if block is None or block.bad:
            continue
        try:
            if line.startswith("--- ") and not block.sides and not block.hunks:
                block.sides.append(_side(line[4:], "a/"))
            elif line.startswith("+++ ") and len(block.sides) == 1 and not block.hunks:
                block.sides.append(_side(line[4:], "b/"))
            elif line.startswith(("rename from ", "copy from ")) and not block.hunks:
                kind, _, name = line.partition(" from ")
                block.moved = (kind, unquote_path(name), None)
            elif line.startswith(("rename to ", "copy to ")) and block.moved is not None and not block.hunks:
                block.moved = (block.moved[0], block.moved[1], unquote_path(line.partition(" to ")[2]))
            elif line.startswith("Binary files ") and not block.hunks:
                block.binary = True
            elif line.startswith("@@ "):
                match = _HUNK_FULL.match(line)
                if match is None:
                    continue
                old_count = int(match.group(2)) if match.group(2) is not None else 1
                new_count = int(match.group(4)) if match.group(4) is not None else 1
                block.hunks.append((int(match.group(1)), old_count, int(match.group(3)), new_count))
                body = old_count + new_count
        except ValueError:
            block.bad = True
    close()
    return result


_HUNK_FULL = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


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


def read_commit(root: Path, rev: str) -> CommitInfo | None:
    """The commit ``rev`` names, parsed; ``None`` when it names no commit."""
    sha = resolve(root, rev)
    if sha is None:
        return None
    return parse_commit(sha, git_bytes(["cat-file", "commit", sha], cwd=root))


def existing_commits(root: Path, shas: Iterable[str]) -> list[str]:
    """The ids of ``shas`` that name commits present in this repository, in the given order.

    A clone may hold notes of commits it never fetched (a deleted branch, a pull request's
    commits); those are left out.
    """
    listed = [sha for sha in dict.fromkeys(shas) if sha and "\n" not in sha]
    if not listed:
        return []
    out = run_git(["cat-file", "--batch-check"], cwd=root, input="".join(f"{sha}\n" for sha in listed))
    present = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "commit":
            present.add(parts[0])
    return [sha for sha in listed if sha in present]


def rev_list(root: Path, *args: str) -> list[str]:
    """The commit ids ``git rev-list ARGS`` prints (revisions, ``--not``, ``--first-parent``, ...)."""
    return run_git(["rev-list", *args, "--"], cwd=root).split()


def outside_history(root: Path, commits: Iterable[str], history_of: str | None) -> list[str]:
    """The commits of ``commits`` (present ones) that are not in the history of ``history_of``, sorted.

    One ``rev-list`` for any number of commits (they are passed on standard input).
    """
    listed = sorted(set(commits))
    if history_of is None or not listed:
        return listed
    wanted = "".join(f"{sha}\n" for sha in listed) + f"^{history_of}\n"
    outside = set(run_git(["rev-list", "--stdin"], cwd=root, input=wanted).split())
    return [sha for sha in listed if sha in outside]


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is in the history of ``descendant`` (a commit is its own ancestor)."""
    if not git_available():
        raise _not_installed()
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", ancestor, descendant], cwd=root, capture_output=True, check=False
    )
    if proc.returncode not in (0, 1):
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git merge-base failed: {detail[-1] if detail else proc.returncode}")
    return proc.returncode == 0


def independent_tips(root: Path, commits: Iterable[str]) -> list[str]:
    """The commits of ``commits`` that are in no other one's history (``merge-base --independent``)."""
    listed = sorted(set(commits))
    if len(listed) < 2:
        return listed
    return run_git(["merge-base", "--independent", *listed], cwd=root).split()


def patch_ids(root: Path, commits: Iterable[str]) -> dict[str, str]:
    """``{commit: stable patch id}``: the same change applied elsewhere (a cherry-pick, a rebase)
    has the same id. Merge commits and commits that change nothing have none."""
    listed = list(dict.fromkeys(commits))
    if not listed:
        return {}
    patches = git_bytes(
        ["diff-tree", "-p", "--no-color", "--no-ext-diff", "--stdin"],
        cwd=root,
        input="".join(f"{sha}\n" for sha in listed),
    )
    found: dict[str, str] = {}
    for line in run_git(["patch-id", "--stable"], cwd=root, input=patches).splitlines():
        pid, _, commit = line.partition(" ")
        if commit:
            found[commit.strip()] = pid
    return found


def for_each_ref(root: Path, *patterns: str) -> dict[str, str]:
    """``{ref name: object id}`` of the refs matching ``patterns`` (``refs/pull/*/head``, ...)."""
    out = run_git(["for-each-ref", "--format=%(objectname) %(refname)", *patterns], cwd=root)
    refs: dict[str, str] = {}
    for line in out.splitlines():
        oid, _, name = line.partition(" ")
        if name:
            refs[name] = oid
    return refs


def fetch_ref(root: Path, remote: str, source: str, target: str, *, timeout: float = 120.0) -> bool:
    """``git fetch REMOTE +SOURCE:TARGET``; True when it worked (a ref the remote lacks is False, not an error)."""
    if not git_available():
        raise _not_installed()
    try:
        proc = subprocess.run(
            ["git", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, f"+{source}:{target}"],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def remotes(root: Path) -> list[str]:
    """The names of the repository's remotes."""
    return [name for name in run_git(["remote"], cwd=root).splitlines() if name]


def remote_ref(root: Path, remote: str, ref: str, *, timeout: float = 60.0) -> str | None:
    """The object ``ref`` names on ``remote`` (``git ls-remote``), or ``None`` when the remote lacks it.

    Raises:
        GitError: the remote cannot be reached (or git is missing).
    """
    out = run_git(["ls-remote", "--refs", remote, ref], cwd=root, timeout=timeout)
    for line in out.splitlines():
        oid, _, name = line.partition("\t")
        if name.strip() == ref:
            return oid.strip()
    return None


def push_ref(root: Path, remote: str, refspec: str, *, timeout: float = 120.0) -> tuple[bool, str]:
    """``git push --no-verify REMOTE REFSPEC`` (no hooks: it may run inside one).

    Returns:
        ``(worked, the last line git wrote to stderr)``.
    """
    if not git_available():
        raise _not_installed()
    try:
        proc = subprocess.run(
            ["git", "push", "--quiet", "--no-verify", remote, refspec],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, f"git push took longer than {timeout} s"
    lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return proc.returncode == 0, lines[-1] if lines else ""


def merge_notes(root: Path, ref: str, other: str) -> None:
    """Merge the notes of ``other`` into ``ref`` (``git notes merge -s ours``): notes only ``other``
    has are added; where both have a note on a commit, ``ref``'s stays. Creates ``ref`` if needed.

    Raises:
        GitError: git failed.
    """
    run_git([*identity_args(root), "notes", "--ref", ref, "merge", "--quiet", "-s", "ours", other], cwd=root)


def reflog_subject(root: Path, ref: str = "HEAD") -> str:
    """The message of the newest reflog entry of ``ref`` (``merge feature: Fast-forward``); ``""`` if none."""
    return run_git(["reflog", "show", "-1", "--format=%gs", ref], cwd=root, check=False).strip()


# -- what git writes into messages --------------------------------------------------------------

_SHA = r"[0-9a-f]{40}(?:[0-9a-f]{24})?"
_PICKED = re.compile(rf"^\(cherry picked from commit ({_SHA})\)\s*$", re.MULTILINE)
_REVERTS = re.compile(rf"^This reverts commit ({_SHA})[.,]", re.MULTILINE)
_SQUASHED = re.compile(rf"^commit ({_SHA})\s*$", re.MULTILINE)


def cherry_picked_from(message: str) -> list[str]:
    """The commits ``git cherry-pick -x`` named in ``message`` (``(cherry picked from commit X)``), in order."""
    return list(dict.fromkeys(_PICKED.findall(message)))


def reverted_commit(message: str) -> str | None:
    """The commit ``git revert`` named in ``message`` (``This reverts commit X.``), if any."""
    match = _REVERTS.search(message)
    return match.group(1) if match else None


def squashed_commits(message: str) -> list[str]:
    """The commits listed by ``git merge --squash`` (``Squashed commit of the following:`` then
    ``commit X`` lines, as ``git log`` prints them); empty for any other message."""
    _head, sep, rest = message.partition("Squashed commit of the following:")
    if not sep:
        return []
    return list(dict.fromkeys(_SQUASHED.findall(rest)))


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


def list_notes(root: Path, ref: str, *, exists: bool = False) -> dict[str, str]:
    """``{commit sha: note blob sha}`` for every note under ``ref`` (empty when the ref is absent).

    ``exists``: the caller has just listed the ref (:func:`for_each_ref`), so it is not looked up first.
    """
    if not exists and resolve(root, ref, commit=False) is None:
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


# -- the history of one line ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineChange:
    """A commit that changed a line (``git log -L``): id, author, author time (ISO 8601), subject."""

    commit: str
    author: str
    time: str
    subject: str


def parse_line_log(text: str) -> list[LineChange]:
    """``git log -s --format=%H%x09%an%x09%aI%x09%s -L ...`` output as changes, newest first."""
    changes = []
    for line in text.splitlines():
        parts = line.split("\t", 3)
        if len(parts) == 4 and len(parts[0]) >= 40:
            changes.append(LineChange(*parts))
    return changes


def line_history(root: Path, rev: str, path: str, line: int, *, limit: int = 20) -> list[LineChange]:
    """The commits that changed ``line`` of ``path`` up to ``rev``, newest first (at most ``limit``).

    Raises:
        GitError: git failed (no such file or line at ``rev``).
    """
    text = run_git(
        ["log", "-s", f"-n{limit}", "--format=%H%x09%an%x09%aI%x09%s", f"-L{line},{line}:{path}", rev, "--"],
        cwd=root,
    )
    return parse_line_log(text)


# -- worktrees (behaviour replay) ------------------------------------------------------------------


def worktree_add(root: Path, folder: Path, commit: str) -> None:
    """Check ``commit`` out, detached, into the new folder ``folder`` (``git worktree add``).

    Raises:
        GitError: git failed (the folder exists, the commit is unknown).
    """
    run_git(["worktree", "add", "--detach", "--quiet", str(folder), commit], cwd=root)


def worktree_remove(root: Path, folder: Path) -> None:
    """Remove the worktree at ``folder`` and forget it, whatever state it is in; never raises."""
    try:
        run_git(["worktree", "remove", "--force", "--force", str(folder)], cwd=root, check=False)
        run_git(["worktree", "prune"], cwd=root, check=False)
    except GitError:
        pass


def last_commit_touching(root: Path, rev: str, pathspecs: Sequence[str]) -> str | None:
    """The newest commit reachable from ``rev`` that changed a path matching ``pathspecs`` (globs).

    Raises:
        GitError: git failed.
    """
    specs = [f":(glob){spec}" for spec in pathspecs]
    out = run_git(["log", "-n1", "--format=%H", rev, "--", *specs], cwd=root).strip()
    return out or None


def dirty_paths(root: Path, paths: Sequence[str] = ()) -> list[str]:
    """Tracked files (of ``paths``) whose working-tree content differs from ``HEAD``."""
    out = run_git(["diff", "--name-only", "HEAD", "--", *paths], cwd=root, check=False)
    return [unquote_path(line) for line in out.splitlines() if line]


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
