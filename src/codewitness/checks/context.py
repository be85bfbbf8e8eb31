"""What every check family is given: the files in scope, the lines that changed, settings.

Each family module (``deps``, ``apis``, ``security``, ``provenance``, ``complexity``) has one entry
point of the same shape, ``run(ctx: CheckContext) -> list[Finding]``.

Without ``--base`` every line of every file is in scope. With ``--base REV`` only the files and
lines that differ between ``REV`` and the working tree are (plus untracked files).

Example:
    >>> ctx = CheckContext.build(Path("."), [Path("src")])  # doctest: +SKIP
    >>> [f.rel for f in ctx.python_files()][:1]  # doctest: +SKIP
    ['src/codewitness/__init__.py']
"""

from __future__ import annotations

import ast
import os
import re
import stat
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness._git import added_lines, git_available, resolve, run_git
from codewitness.config import CheckSection
from codewitness.errors import GitError, InputError

if TYPE_CHECKING:
    from codewitness.checks.attribution import Attribution
    from codewitness.checks.index import IndexClient
    from codewitness.model import Generation

__all__ = [
    "CheckContext",
    "SourceFile",
    "changed_lines",
    "imported_modules",
    "matches_any",
    "project_roots",
    "walk_by_type",
]

_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "build",
        "dist",
        ".codewitness",
        ".eggs",
    }
)
#: Files the dependency family reads.
MANIFEST_NAMES = ("pyproject.toml", "uv.lock", "poetry.lock", "Pipfile", "Pipfile.lock", "package.json")
_REQUIREMENTS = re.compile(r"^requirements.*\.(txt|in)$|.*requirements\.(txt|in)$")
_MAX_BYTES = 2_000_000


def is_manifest(name: str) -> bool:
    """True for the dependency manifests and lock files we read."""
    return name in MANIFEST_NAMES or bool(_REQUIREMENTS.match(name))


@dataclass
class SourceFile:
    """One file under check.

    Attributes:
        path: absolute path.
        rel: path relative to the repository root, ``/``-separated.
        changed: the in-scope line numbers, or ``None`` when every line is in scope.
    """

    path: Path
    rel: str
    changed: frozenset[int] | None = None

    @cached_property
    def text(self) -> str:
        """The file's text (undecodable bytes replaced)."""
        return self.path.read_bytes().decode("utf-8", "replace")

    @cached_property
    def lines(self) -> list[str]:
        """The file's lines, without line ends."""
        return self.text.splitlines()

    @cached_property
    def tree(self) -> ast.Module | None:
        """The parsed module, or ``None`` when it is not valid Python (counted, never fatal)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escape sequences in user code are not our business
                return ast.parse(self.text, filename=self.rel)
        except (SyntaxError, ValueError):
            return None

    @cached_property
    def _buckets(self) -> dict[type, list[ast.AST]]:
        """Every node of :attr:`tree` by type, from one walk shared by all rules (walking is the costly part)."""
        return walk_by_type(self.tree) if self.tree is not None else {}

    def forget_tree(self) -> None:
        """Let the syntax tree (and its nodes by type) go; it is parsed again if asked for."""
        self.__dict__.pop("tree", None)
        self.__dict__.pop("_buckets", None)

    def of(self, *types: type) -> list[Any]:
        """The nodes of exactly these types, in walk order per type (cheaper than isinstance on all)."""
        if len(types) == 1:
            return self._buckets.get(types[0], [])
        return [n for t in types for n in self._buckets.get(t, [])]

    @cached_property
    def imports(self) -> list[tuple[str, int]] | None:
        """Absolute imports as ``(dotted module, line)``, optional ones left out; None when not valid Python."""
        if self.tree is None:
            return None
        return list(imported_modules(self.tree, self, full=True))

    def in_scope(self, line: int) -> bool:
        """True when ``line`` is one the check should report on."""
        return self.changed is None or line in self.changed

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` ("" when out of range)."""
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""


@dataclass
class CheckContext:
    """Everything a check family needs.

    Attributes:
        root: the repository (or project) root; finding paths are relative to it.
        files: the files in scope.
        settings: the ``[check]`` configuration section.
        base: the ``--base`` revision, if any.
        index: the package index client (set by the runner for the deps family).
        attribution: who wrote which line, when known.
        generations: recorded AI generations (from the ledger) whose output may name packages.
        verdicts: one row per package the dependency family looked up (filled by it).
        skipped: files that could not be read or parsed, with the reason.
    """

    root: Path
    files: list[SourceFile]
    settings: CheckSection = field(default_factory=CheckSection)
    base: str | None = None
    index: IndexClient | None = None
    attribution: Attribution | None = None
    generations: list[Generation] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    _by_rel: dict[str, SourceFile] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        root: Path,
        paths: Sequence[Path] = (),
        *,
        base: str | None = None,
        settings: CheckSection | None = None,
    ) -> CheckContext:
        """Collect the files under ``paths`` (default: the whole root) and, with ``base``, the changed lines.

        Raises:
            InputError: a path does not exist.
            GitError: ``base`` is given but git cannot diff against it.
        """
        root = root.resolve()
        targets = [p if p.is_absolute() else (Path.cwd() / p) for p in paths] or [root]
        for target in targets:
            if not target.exists():
                raise InputError(f"{target}: no such file or folder")
        changed = changed_lines(root, base) if base else None
        files: list[SourceFile] = []
        seen: set[Path] = set()
        resolve = _Resolver()
        for path in _walk(root, targets):
            resolved = resolve(path)
            if resolved in seen:
                continue
            seen.add(resolved)
            try:
                rel = resolved.relative_to(root).as_posix()
            except ValueError:
                rel = resolved.as_posix()
            if changed is not None:
                if rel not in changed:
                    continue
                files.append(SourceFile(resolved, rel, changed[rel]))
            else:
                files.append(SourceFile(resolved, rel))
        return cls(root=root, files=files, settings=settings or CheckSection(), base=base)

    def parsed_tree(self, rel: str) -> ast.Module | None:
        """The syntax tree of in-scope file ``rel`` when this process has parsed it already, else ``None``."""
        if self._by_rel is None:
            self._by_rel = {f.rel: f for f in self.files}
        found = self._by_rel.get(rel)
        tree = found.__dict__.get("tree") if found is not None else None  # never parses: a cached_property's value
        return tree if isinstance(tree, ast.Module) else None

    def python_files(self) -> Iterator[SourceFile]:
        """The in-scope ``.py`` files that parse, in path order."""
        for f in self.files:
            if f.rel.endswith((".py", ".pyi")):
                if f.tree is None:
                    self.skipped.append((f.rel, "not valid Python"))
                    continue
                yield f

    def python_sources(self) -> Iterator[SourceFile]:
        """The in-scope ``.py``/``.pyi`` files, parsed or not (for families that need only :attr:`SourceFile.imports`
        or the text)."""
        return (f for f in self.files if f.rel.endswith((".py", ".pyi")))

    def manifests(self) -> Iterator[SourceFile]:
        """The in-scope dependency manifests and lock files."""
        for f in self.files:
            if is_manifest(f.path.name):
                yield f


def project_roots(root: Path) -> list[Path]:
    """Where a project keeps its own top-level packages and modules: its root, ``src/`` and ``lib/``."""
    return [root, root / "src", root / "lib"]


@lru_cache(maxsize=64)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``/``-separated glob as a regex: ``**/`` is any number of folders, ``*`` and ``?`` stay in one name."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def matches_any(rel: str, globs: Sequence[str]) -> bool:
    """True when the ``/``-separated relative path ``rel`` matches one of ``globs``.

    Example:
        >>> matches_any("pkg/tests/unit/test_a.py", ["**/tests/**"]), matches_any("src/app.py", ["tests/**"])
        (True, False)
    """
    return any(_glob_regex(g).match(rel) for g in globs)


def walk_by_type(tree: ast.AST) -> dict[type, list[ast.AST]]:
    """The nodes of ``tree`` grouped by type, each group in ``ast.walk`` order.

    The ``ctx`` fields (the shared Load/Store/Del markers on every name) are not walked: no rule
    asks for them and they are a quarter of all nodes.
    """
    buckets: dict[type, list[ast.AST]] = {}
    queue: list[ast.AST] = [tree]
    node_type = ast.AST
    index = 0
    while index < len(queue):
        node = queue[index]
        index += 1
        kind = type(node)
        group = buckets.get(kind)
        if group is None:
            buckets[kind] = [node]
        else:
            group.append(node)
        for name in node._fields:
            if name == "ctx":
                continue
            value = getattr(node, name, None)
            if isinstance(value, node_type):
                queue.append(value)
            elif isinstance(value, list):
                queue.extend(item for item in value if isinstance(item, node_type))
    return buckets


def _wanted(path: Path) -> bool:
    if not (path.name.endswith((".py", ".pyi")) or is_manifest(path.name)):
        return False
    try:
        return path.stat().st_size <= _MAX_BYTES  # larger: generated or vendored blobs nobody reviews
    except OSError:
        return False  # listed by git but deleted in the working tree


class _Resolver:
    """``Path.resolve()`` of many files, each folder's real path worked out once.

    A file that is not a symbolic link resolves to its folder's real path joined with its name; walking every
    component of every path again (``realpath`` asks the file system about each) was a tenth of a warm run.
    Anything else -- a link, a name that is not a plain one, a file gone meanwhile -- is resolved as it is.
    """

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: Path) -> Path:
        folder, name = os.path.split(os.fspath(path))
        if name in ("", ".", "..") or not os.path.isabs(folder):
            return path.resolve()
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return path.resolve()
        except OSError:
            return path.resolve()
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(folder)
        return Path(os.path.join(real, name))


def _walk(root: Path, targets: Sequence[Path]) -> Iterator[Path]:
    """The files to check under ``targets``: what git tracks or would track (``.gitignore`` honoured)
    inside a repository, else a walk that skips virtualenvs, caches and hidden folders."""
    listed = _git_files(root) if (root / ".git").exists() and git_available() else None
    for target in targets:
        if target.is_file():
            yield target
            continue
        if listed is not None:
            try:
                prefix = target.resolve().relative_to(root).as_posix()
            except ValueError:
                prefix = None
            if prefix is not None:
                inside = [rel for rel in listed if prefix in ("", ".") or rel == prefix or rel.startswith(prefix + "/")]
                yield from (root / rel for rel in inside if _wanted(root / rel))
                continue
        for folder, dirs, names in os.walk(target):
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in _SKIP_DIRS
                and not d.startswith(".")
                and not d.endswith(".egg-info")
                and not (Path(folder) / d / "pyvenv.cfg").exists()
            )
            yield from (Path(folder) / name for name in sorted(names) if _wanted(Path(folder) / name))


def _git_files(root: Path) -> list[str]:
    out = run_git(
        ["-c", "core.quotepath=off", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=False,
    )
    return sorted(set(filter(None, out.split("\0"))))


def changed_lines(root: Path, base: str) -> dict[str, frozenset[int]]:
    """Lines added or changed since ``base`` in the working tree, per repo-relative path.

    Untracked (not ignored) files count as wholly new.

    Raises:
        GitError: git is missing, ``root`` is not a repository, or ``base`` is not a revision.
    """
    if not git_available():
        raise GitError("--base needs git, which is not installed or not on PATH")
    verified = resolve(root, base)
    if verified is None:
        raise GitError(f"--base {base!r} is not a commit in {root}")
    result = added_lines(root, verified)
    untracked = run_git(["-c", "core.quotepath=off", "ls-files", "--others", "--exclude-standard", "-z"], cwd=root)
    for rel in filter(None, untracked.split("\0")):
        try:
            count = (root / rel).read_bytes().count(b"\n") + 1
        except OSError:
            continue
        result[rel] = set(range(1, count + 1))
    return {path: frozenset(lines) for path, lines in result.items()}


# -- imports -----------------------------------------------------------------------------------


#: Names in an ``if`` test choosing code by interpreter version or platform, or for type checkers only.
_GUARD_NAMES = frozenset(
    {"version_info", "hexversion", "platform", "python_implementation", "implementation", "TYPE_CHECKING"}
)
_GUARD_FLAG = re.compile(r"^(?:PY_?\d\w*|PYPY|IS_[A-Z]\w*|WINDOWS|MACOS|LINUX)$")


def _is_version_guard(test: ast.expr) -> bool:
    """``sys.version_info >= (3, 11)``, ``sys.platform == "win32"``, ``os.name``, ``PY3``, ``TYPE_CHECKING``."""
    names = {
        n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(test) if isinstance(n, ast.Name | ast.Attribute)
    }
    if names & _GUARD_NAMES or any(_GUARD_FLAG.match(n) for n in names):
        return True
    return ("os" in names and "name" in names) or ("sys" in names and "version" in names)


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _handled_names(types: Iterable[ast.expr | None]) -> set[str]:
    names: set[str] = set()
    for htype in types:
        for n in ast.walk(htype) if htype is not None else [ast.Name("Exception")]:
            if isinstance(n, ast.Name | ast.Attribute):
                names.add(n.id if isinstance(n, ast.Name) else n.attr)
    return names


def _optional_import_nodes(nodes: list[ast.AST]) -> set[int]:
    """ids of import nodes the code expects may fail: optional imports.

    That is imports in a ``try`` that handles ImportError (or broader), in ``with suppress(ImportError)``,
    and under an ``if`` on the interpreter version or platform (``if sys.version_info >= (3, 11): import
    tomllib else: import tomli``) or ``TYPE_CHECKING`` — both branches: only one of them runs on any
    interpreter.

    Args:
        nodes: the file's nodes (only ``Try``/``TryStar``/``If``/``With`` nodes matter; passing just those is faster).
    """
    found: set[int] = set()

    def take(body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            found.update(id(n) for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom))

    for node in nodes:
        if isinstance(node, ast.Try | ast.TryStar):
            if _handled_names(h.type for h in node.handlers) & _IMPORT_ERRORS:
                take(node.body)
        elif isinstance(node, ast.If):
            if _is_version_guard(node.test):
                take(node.body)
                take(node.orelse)
        elif isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and ast.unparse(call.func).endswith("suppress")
                    and _handled_names(call.args) & _IMPORT_ERRORS
                ):
                    take(node.body)
    return found


def imported_modules(
    tree: ast.Module, source: SourceFile | None = None, *, full: bool = False
) -> Iterator[tuple[str, int]]:
    """Module names imported absolutely, with their line, optional imports left out.

    Args:
        tree: the parsed file.
        source: the file, when its nodes are already grouped by type (faster).
        full: give the whole dotted name (``ruamel.yaml``), not only the top-level one (``ruamel``).
    """
    if source is not None:
        optional = _optional_import_nodes(source.of(ast.Try, ast.TryStar, ast.If, ast.With))
        nodes: list[Any] = source.of(ast.Import, ast.ImportFrom)
    else:
        nodes = list(ast.walk(tree))
        optional = _optional_import_nodes(nodes)
    for node in nodes:
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name if full else alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module if full else node.module.split(".")[0], node.lineno
