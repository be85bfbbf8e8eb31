"""One file as the dashboard shows it: each line's origin with the generation, model and prompt
behind it, and the functions the file defines.

Example:
    >>> view = annotated_file(store, Path("."), "shop/pricing.py")  # doctest: +SKIP
    >>> view.origins.lines[0].origin.kind, view.generations["gen_bce685ec1a2817389667"]["prompt_name"]  # doctest: +SKIP
    ('ai', 'pricing')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness.errors import CodewitnessError
from codewitness.views.catalog import FunctionEntry, function_catalog
from codewitness.views.files import FileOrigins, file_origins
from codewitness.views.ledger_lists import GenerationRow, generation_row

if TYPE_CHECKING:
    from codewitness.attribution.cache import AttributionCache
    from codewitness.attribution.report import Report
    from codewitness.store import Store

__all__ = ["AnnotatedFile", "annotated_file"]


@dataclass(frozen=True)
class AnnotatedFile:
    """A file's lines with their origins, the ledger's record of each generation named, its functions.

    Attributes:
        origins: the lines (:func:`~codewitness.views.files.file_origins`).
        generations: generation id -> its ledger record, for the ids the ledger holds.
        functions: the functions defined in the file, by line.
    """

    origins: FileOrigins
    generations: dict[str, GenerationRow]
    functions: tuple[FunctionEntry, ...]


def annotated_file(
    store: Store,
    root: Path,
    path: str,
    *,
    report: Report | None = None,
    cache: AttributionCache | None = None,
) -> AnnotatedFile:
    """``path`` at HEAD with its origins and the records behind them.

    Raises:
        InputError: ``path`` is not a file at HEAD.
        GitError: git failed.
    """
    from codewitness import ledger

    origins = file_origins(root, path, cache=cache)
    generations: dict[str, GenerationRow] = {}
    for gid in sorted({g for ln in origins.lines for g in ln.origin.generation_ids}):
        try:
            recorded = ledger.get(store, gid)
        except CodewitnessError:
            continue  # known from notes only
        if recorded.id == gid:
            generations[gid] = generation_row(recorded)
    functions: tuple[FunctionEntry, ...] = ()
    if report is not None:
        page = function_catalog(store, report, search=path, sort="name", limit=500)
        functions = tuple(sorted((f for f in page.items if f["path"] == path), key=lambda f: f["start_line"] or 0))
    return AnnotatedFile(origins=origins, generations=generations, functions=functions)
