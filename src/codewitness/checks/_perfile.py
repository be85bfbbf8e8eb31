"""The per-file rules (APIs, security) over many files: in one or two processes, with a result cache.

Parsing dominates a check of a large tree, so two things keep it fast:

* the files can be split across two processes (``jobs``), each parsing half;
* results are kept per file in ``.codewitness/cache/file-results.json``. An entry is reused only
  when the file's content hash is the same, codewitness and its rules are the same, and every
  module the API check consulted for that file still has the same files (mtime and size of its
  sources and package folders). Anything else is computed again.

Findings are computed for whole files and narrowed to the lines in scope afterwards, so one cache
serves runs with and without ``--base``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codewitness._files import write_atomically
from codewitness._version import __version__
from codewitness.checks.context import SourceFile
from codewitness.checks.findings import Finding

__all__ = ["FileResultCache", "PerFileOutcome", "per_file_findings", "sys_path_stamp"]

#: Families whose work is per file.
PER_FILE = frozenset({"apis", "security"})

_Item = tuple[str, str]  # absolute path, repo-relative path


@dataclass
class _Result:
    """What the per-file work found in one file (all lines), and what it depended on."""

    findings: dict[str, list[Finding]]
    imports: list[tuple[str, int]] | None
    modules: dict[str, str] = field(default_factory=dict)  # module name -> fingerprint
    undecided: list[tuple[str, int]] = field(default_factory=list)  # (module, line) of names nothing decided


@dataclass
class PerFileOutcome:
    """The per-file families' findings on in-scope lines, and the API names nothing could decide."""

    findings: dict[str, list[Finding]]
    undecided: dict[str, int]
    #: How many files were worked out again (not taken from the result cache).
    computed: int = 0


def _file_work(
    items: list[_Item],
    families: tuple[str, ...],
    roots: tuple[str, ...] = (),
    sources: Sequence[SourceFile] | None = None,
) -> dict[str, _Result]:
    """The per-file rules over ``items``. Runs in a worker process or in this one (plain values in and out).

    ``roots`` hold the checked project's own packages (see :class:`~codewitness.checks.apis.ModuleIndex`).
    In this process, ``sources`` are the caller's files for ``items``: those with findings keep their syntax
    trees, which naming the functions around the findings needs again; the others let theirs go.
    """
    from codewitness.checks.apis import ModuleIndex, check_file
    from codewitness.checks.security import ast_findings, secret_findings

    index = ModuleIndex([Path(r) for r in roots])
    fingerprints: dict[str, str] = {}
    results: dict[str, _Result] = {}
    parsed: list[SourceFile] = []
    files = list(sources) if sources is not None else [SourceFile(Path(path), rel) for path, rel in items]
    for f in files:
        rel = f.rel
        found: dict[str, list[Finding]] = {family: [] for family in families}
        modules: dict[str, str] = {}
        undecided: list[tuple[str, int]] = []
        if f.tree is not None:
            parsed.append(f)
            if "apis" in families:
                index.consulted.clear()
                found["apis"] = check_file(f, index, undecided)
                for name in sorted(index.consulted):
                    if name not in fingerprints:
                        fingerprints[name] = index.fingerprint(name)
                    modules[name] = fingerprints[name]
            if "security" in families:
                found["security"] = ast_findings(f)
        results[rel] = _Result(found, f.imports, modules, undecided)
        if sources is not None and not any(found.values()):
            f.forget_tree()
    if "security" in families:
        for finding in secret_findings(parsed):  # one detect-secrets session for all files
            results[finding.path].findings["security"].append(finding)
    return results


def _split(files: Sequence[SourceFile]) -> tuple[list[_Item], list[_Item]]:
    """Two halves of about equal size in bytes."""
    sized = []
    for f in files:
        try:
            sized.append((f.path.stat().st_size, f))
        except OSError:
            sized.append((0, f))
    halves: tuple[list[_Item], list[_Item]] = ([], [])
    weights = [0, 0]
    for size, f in sorted(sized, key=lambda pair: pair[0], reverse=True):
        side = 0 if weights[0] <= weights[1] else 1
        halves[side].append((str(f.path), f.rel))
        weights[side] += size
    return halves


def _compute(
    files: Sequence[SourceFile], families: tuple[str, ...], two_processes: bool, roots: tuple[str, ...]
) -> dict[str, _Result]:
    items = [(str(f.path), f.rel) for f in files]
    if not items:
        return {}  # everything came from the cache: no parser, linter or secret scanner to load
    if not two_processes or len(items) < 2:
        return _file_work(items, families, roots, sources=files)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    local, remote = _split(files)
    # spawn, not fork: forking a process that runs threads (test servers, host applications) may deadlock.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(_file_work, remote, families, roots)
        results = _file_work(local, families, roots)
        try:
            results.update(future.result())
        except BrokenProcessPool:
            results.update(_file_work(remote, families, roots))  # the worker died: do its half here
    return results


class FileResultCache:
    """Per-file results on disk, valid for one codewitness build and one interpreter.

    Args:
        path: the JSON file (created on :meth:`save`).
    """

    VERSION = 2

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Any] = {}
        self._dirty = False
        self._module_ok: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()
        data: Any = None
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
        # The linters' versions, as read when every folder on sys.path last had these modification times
        # (installing, upgrading or removing a distribution changes its folder's): reading them again from
        # the distributions' metadata costs a small project's warm run a tenth of its time.
        self.environment = sys_path_stamp()
        kept = data.get("linters") if data.get("environment") == self.environment else None
        if isinstance(kept, list) and all(isinstance(v, str) for v in kept):
            self.linters: list[str] = kept
        else:
            self.linters = _linter_versions()
            self._dirty = True  # keep them for the next run
        self.build = _build_fingerprint(self.linters)
        # What the distributions' metadata says about editable installs, kept the same way (see editable_sources).
        self._editable: list[tuple[str, str, str]] | None = None
        kept = data.get("editable") if data.get("environment") == self.environment else None
        if isinstance(kept, list) and all(
            isinstance(c, list) and len(c) == 3 and all(isinstance(x, str) for x in c) for c in kept
        ):
            self._editable = [(a, b, c) for a, b, c in kept]
        self._editable_sources: dict[str, Path] | None = None
        if data.get("version") == self.VERSION and data.get("build") == self.build:
            entries = data.get("files")
            self._entries = entries if isinstance(entries, dict) else {}
        # A corrupt, foreign or outdated cache is ignored and replaced: everything in it can be computed again.

    def editable_sources(self) -> dict[str, Path]:
        """Where editable installs keep their top-level names: what the distributions' metadata said is kept
        with the other environment facts (reading it costs a warm run as much as the rest of its checks)."""
        if self._editable_sources is None:
            from codewitness.checks.apis import editable_candidates, editable_sources

            if self._editable is None:
                self._editable = editable_candidates()
                self._dirty = True
            self._editable_sources = editable_sources(self._editable)
        return self._editable_sources

    def get(self, f: SourceFile, digest: str, families: tuple[str, ...], index: Any) -> _Result | None:
        """The cached result for ``f`` if its content and every module it depended on are unchanged."""
        entry = self._entries.get(f.rel)
        if not isinstance(entry, dict) or entry.get("hash") != digest:
            return None
        stored = entry.get("findings", {})
        if not all(family in stored for family in families):
            return None
        modules = entry.get("modules", {})
        for name, fingerprint in modules.items():
            key = (name, fingerprint)
            if key not in self._module_ok:
                self._module_ok[key] = index.fingerprint(name) == fingerprint
            if not self._module_ok[key]:
                return None
        try:
            findings = {family: [_finding(d) for d in stored[family]] for family in families}
            imports = entry["imports"]
            undecided = [(str(m), int(n)) for m, n in entry.get("undecided", [])]
            return _Result(
                findings,
                [(str(m), int(n)) for m, n in imports] if imports is not None else None,
                modules,
                undecided,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, f: SourceFile, digest: str, result: _Result) -> None:
        """Remember ``result`` for ``f`` (merging families computed by earlier runs of the same content)."""
        old = self._entries.get(f.rel)
        findings: dict[str, Any] = {}
        modules: dict[str, str] = {}
        if isinstance(old, dict) and old.get("hash") == digest:
            findings.update(old.get("findings", {}))
            modules.update(old.get("modules", {}))
        findings.update({family: [_plain(x) for x in items] for family, items in result.findings.items()})
        modules.update(result.modules)
        self._entries[f.rel] = {
            "hash": digest,
            "findings": findings,
            "imports": result.imports,
            "modules": modules,
            "undecided": result.undecided,
        }
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything changed (temp file + rename)."""
        if not self._dirty:
            return
        payload = json.dumps(
            {
                "version": self.VERSION,
                "build": self.build,
                "environment": self.environment,
                "linters": self.linters,
                "editable": self._editable,
                "files": self._entries,
            }
        )
        write_atomically(self.path, payload, private=True)
        self._dirty = False


def _build_fingerprint(linters: Sequence[str]) -> str:
    """Changes with the interpreter, the codewitness version, the checks' own code and data, and ``linters``."""
    parts = [sys.version, __version__]
    for path in sorted(Path(__file__).parent.rglob("*")):
        if path.suffix in (".py", ".tsv"):
            info = path.stat()
            parts.append(f"{path.name}:{info.st_mtime_ns}:{info.st_size}")
    parts.extend(linters)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _linter_versions() -> list[str]:
    """``name:version`` of the linters and stubs the per-file rules use (those installed)."""
    found = []
    for dist in ("ruff", "detect_secrets", "typeshed_client"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            found.append(f"{dist}:{version(dist)}")
    return found


def sys_path_stamp() -> str:
    """A digest of the modification times of the folders on ``sys.path`` that hold installed distributions
    (``*.dist-info``, ``*.egg-info``): installing, upgrading or removing one changes its folder's, so what was read
    from the installed distributions holds while the digest is the same.

    Other folders on the path (the project itself, with ``python -m``; a script's folder) change whenever a file
    is added there, and hold no distribution: they are left out, or every such change would read all again.
    """
    stamps: list[tuple[str, int]] = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            info = os.stat(entry or ".")
            if stat.S_ISDIR(info.st_mode) and _holds_distributions(entry or "."):
                stamps.append((entry, info.st_mtime_ns))
    return hashlib.sha256(json.dumps(stamps).encode()).hexdigest()


def _holds_distributions(folder: str) -> bool:
    with os.scandir(folder) as entries:
        return any(e.name.endswith((".dist-info", ".egg-info")) for e in entries)


def _plain(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "path": finding.path,
        "line": finding.line,
        "message": finding.message,
        "column": finding.column,
        "severity": finding.severity,
        "snippet": finding.snippet,
        "properties": json.loads(json.dumps(dict(finding.properties), default=str)),
    }


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(
        str(data["rule_id"]),
        str(data["path"]),
        int(data["line"]),
        str(data["message"]),
        column=data.get("column"),
        severity=data.get("severity"),
        snippet=str(data.get("snippet", "")),
        properties=data.get("properties") or {},
    )


def per_file_findings(
    sources: Sequence[SourceFile],
    families: tuple[str, ...],
    *,
    two_processes: bool,
    cache: FileResultCache | None,
    roots: Sequence[Path] = (),
) -> PerFileOutcome:
    """Findings of the per-file ``families`` on the in-scope lines of ``sources``.

    Also leaves each file's imports on it (:attr:`SourceFile.imports`) so the dependency family
    does not parse again. ``roots`` hold the checked project's own packages.
    """
    from codewitness.checks.apis import ModuleIndex

    index = ModuleIndex(roots, editable=cache.editable_sources if cache is not None else None)
    root_names = tuple(str(r) for r in roots)
    results: dict[str, _Result] = {}
    digests: dict[str, str] = {}
    missing: list[SourceFile] = []
    for f in sources:
        try:
            digests[f.rel] = hashlib.sha256(f.path.read_bytes()).hexdigest()
        except OSError:
            continue
        hit = cache.get(f, digests[f.rel], families, index) if cache is not None else None
        if hit is None:
            missing.append(f)
        else:
            results[f.rel] = hit
    ruff = None
    if "security" in families and missing:  # a run whose results all come from the cache loads no linter
        from codewitness.checks.security import start_ruff

        ruff = start_ruff([SourceFile(f.path, f.rel) for f in missing])
    fresh = _compute(missing, families, two_processes, root_names)
    if ruff is not None:
        from codewitness.checks.security import ruff_findings

        for finding in ruff_findings(ruff, [SourceFile(f.path, f.rel) for f in missing]):
            fresh[finding.path].findings["security"].append(finding)
    results.update(fresh)
    if cache is not None:
        for f in missing:
            if f.rel in fresh:
                cache.put(f, digests[f.rel], fresh[f.rel])
    done: dict[str, list[Finding]] = {family: [] for family in families}
    undecided: dict[str, int] = {}
    for f in sources:
        result = results.get(f.rel)
        if result is None:
            continue
        f.__dict__["imports"] = result.imports  # what deps reads instead of parsing again
        for family in families:
            done[family].extend(x for x in result.findings.get(family, []) if f.in_scope(x.line))
        for module, line in result.undecided:
            if f.in_scope(line):
                undecided[module] = undecided.get(module, 0) + 1
    return PerFileOutcome(done, undecided, computed=len(missing))
