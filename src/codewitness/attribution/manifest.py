"""The manifest: the AI-attributed functions at one revision, for the runtime sensor.

Written at build or deploy time (``codewitness manifest build``) to ``.codewitness/manifest.json``
in the format fixed by :class:`codewitness.model.Manifest`; production reads it and never needs git.

Every function with at least one AI-written line is listed, with its AI share and the generations,
models and agents of its lines, so that a function where an agent changed one line of three still
carries its origin in every runtime fact. ``min_share`` only says which of them the sensor watches
by default (``Manifest.watch_min_share``; 0, the default, watches them all).

Example:
    >>> manifest = build_manifest(Path("."), "HEAD", min_share=0.5)  # doctest: +SKIP
    >>> write_manifest(manifest, Path(".codewitness/manifest.json"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from codewitness._files import write_atomically
from codewitness.attribution.cache import AttributionCache
from codewitness.attribution.report import Report, build_report
from codewitness.errors import InputError
from codewitness.model import Manifest, ManifestFunction

__all__ = ["DEFAULT_MANIFEST", "build_manifest", "manifest_from_report", "write_manifest"]

DEFAULT_MANIFEST = Path(".codewitness") / "manifest.json"


def manifest_from_report(report: Report, *, min_share: float = 0.0) -> Manifest:
    """Every function of ``report`` with AI-written lines; the sensor watches those with at least ``min_share``.

    Raises:
        InputError: ``min_share`` is outside 0..1.
    """
    if not 0.0 <= min_share <= 1.0:
        raise InputError(f"--min-share must be between 0 and 1, got {min_share}")
    functions = tuple(
        ManifestFunction(
            module=f.module,
            qualname=f.local_qualname,
            path=f.ref.path,
            start_line=f.ref.start_line,
            end_line=f.ref.end_line,
            ai_share=f.ref.ai_share,
            generation_ids=f.ref.generation_ids,
            models=f.ref.models,
            agents=f.ref.agents,
        )
        for f in sorted(report.functions, key=lambda f: (f.ref.path, f.ref.start_line))
        if f.ref.ai_share > 0
    )
    return Manifest(revision=report.revision, functions=functions, watch_min_share=min_share)


def build_manifest(
    root: Path,
    rev: str = "HEAD",
    *,
    min_share: float = 0.0,
    paths: Sequence[str] = (),
    cache: AttributionCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Attribute the Python files at ``rev`` and list every function with AI-written lines.

    ``min_share`` is the smallest AI share the sensor watches by default (recorded in the manifest).

    Raises:
        GitError, NotFoundError, InputError: as :func:`~codewitness.attribution.report.build_report`.
    """
    if not 0.0 <= min_share <= 1.0:
        raise InputError(f"--min-share must be between 0 and 1, got {min_share}")
    import dataclasses

    from codewitness._git import origin_url

    report = build_report(root, rev, paths=paths, cache=cache, progress=progress, python_only=True)
    return dataclasses.replace(manifest_from_report(report, min_share=min_share), repository=origin_url(root))


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Write ``manifest`` atomically (a reader never sees half a file)."""
    write_atomically(path, manifest.to_json() + "\n")
