"""``codewitness blame``: one row per line, like ``git blame``, on the fastest path the CLI has.

:func:`run` is the command's body for Typer (:mod:`codewitness.cli.attribution`) and for
:func:`codewitness.cli.main`, which calls it directly when :func:`fast_args` recognises the
arguments -- so a warm cache answers without importing Typer, Rich or SQLAlchemy (the cache is
read through :mod:`codewitness.store.lite`). :func:`fast_args` only accepts what it fully
understands and answers ``None`` for anything else (``--help``, an unknown or repeated option, a
missing file), which Typer then parses and reports as usual.

Example:
    >>> fast_args(["blame", "shop/pricing.py", "--json"])
    BlameArgs(file=PosixPath('shop/pricing.py'), rev='HEAD', as_json=True, no_cache=False, db=None, root_db=None)
    >>> fast_args(["blame", "--help"]) is None
    True
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness.cli import _base

if TYPE_CHECKING:
    from codewitness.views.files import FileOrigins

__all__ = ["BlameArgs", "fast_args", "run"]

_COLOURS = {"ai": "35", "mixed": "33", "human": "32", "unknown": "2"}


@dataclass(frozen=True)
class BlameArgs:
    """The arguments of one ``blame`` run (``root_db`` is the root ``codewitness --db``)."""

    file: Path
    rev: str = "HEAD"
    as_json: bool = False
    no_cache: bool = False
    db: str | None = None
    root_db: str | None = None


def _value(args: Sequence[str], i: int, name: str) -> tuple[str, int] | None:
    """The value of option ``name`` at ``args[i]`` (``--name V`` or ``--name=V``) and the next index."""
    token = args[i]
    if token.startswith(name + "="):
        value, after = token[len(name) + 1 :], i + 1
    elif token == name and i + 1 < len(args):
        value, after = args[i + 1], i + 2
    else:
        return None
    return (value, after) if value and not value.startswith("-") else None


def fast_args(argv: Sequence[str]) -> BlameArgs | None:
    """The arguments of a plain ``[--db URL] blame FILE [--rev R] [--json] [--no-cache] [--db URL]``.

    ``None`` for anything else, including every form this parser is not sure of (a value that
    starts with ``-``, an option given twice, ``--``, help): Typer decides those.
    """
    i = 0
    root_db: str | None = None
    while i < len(argv) and argv[i] != "blame":
        got = _value(argv, i, "--db")
        if got is None or root_db is not None:
            return None
        root_db, i = got
    if i >= len(argv):
        return None
    i += 1
    files: list[str] = []
    seen: dict[str, str | bool] = {}
    while i < len(argv):
        token = argv[i]
        if token in ("--json", "--no-cache"):
            if token in seen:
                return None
            seen[token] = True
            i += 1
            continue
        if token.startswith("-"):
            for name in ("--rev", "--db"):
                got = _value(argv, i, name)
                if got is not None and name not in seen:
                    seen[name], i = got
                    break
            else:
                return None
            continue
        files.append(token)
        i += 1
    if len(files) != 1 or not files[0]:
        return None
    rev, db = seen.get("--rev", "HEAD"), seen.get("--db")
    assert isinstance(rev, str) and (db is None or isinstance(db, str))
    return BlameArgs(
        file=Path(files[0]),
        rev=rev,
        as_json=bool(seen.get("--json")),
        no_cache=bool(seen.get("--no-cache")),
        db=db,
        root_db=root_db,
    )


def run(args: BlameArgs) -> None:
    """Attribute the file and print it: JSON, or one row per line; warnings go to stderr.

    Raises:
        CodewitnessError: not a repository, no such revision or file, or the store cannot be opened.
    """
    from codewitness.views.files import file_origins

    _base.database_override = args.root_db  # this run's own (None clears an earlier run's, in one process)
    start = args.file.parent if args.file.parent.exists() else Path.cwd()
    if args.no_cache:
        origins = file_origins(start, args.file, args.rev)
    else:
        from codewitness.attribution._litecache import open_cache

        with open_cache(_base.database_url(args.db)) as cache:
            origins = file_origins(start, args.file, args.rev, cache=cache)
    if args.as_json:
        _base.emit_json(origins.to_dict())
    else:
        if origins.skipped:
            sys.stderr.write(f"{origins.path}: {origins.skipped} file, nothing to attribute\n")
        sys.stdout.write(render(origins, colour=_base.colour(sys.stdout)))
    for message, count in sorted(origins.warnings.items()):
        _base.warn(message, count)


def render(origins: FileOrigins, *, colour: bool = False) -> str:
    """The rows of ``blame``: line, origin, confidence, evidence, agent/model, generation,
    commit, author, then the code as it is; one row per line, never wrapped."""
    width = len(str(len(origins.lines)))
    rows = []
    for ln in origins.lines:
        o = ln.origin
        who = "/".join(x for x in (o.agent, o.model) if x) or "-"
        gen = o.generation_ids[0] if o.generation_ids else "-"
        author = ln.author.split(" <")[0]
        kind = f"{o.kind:<7}"
        if colour:
            kind = f"\x1b[{_COLOURS[o.kind]}m{kind}\x1b[0m"
        rows.append(
            f"{ln.line:>{width}} {kind} {o.confidence:.2f} {o.evidence:<7} "
            f"{who[:28]:<28} {gen[:16]:<16} {ln.commit[:8]} {author[:16]:<16} | {ln.text}\n"
        )
    return "".join(rows)
