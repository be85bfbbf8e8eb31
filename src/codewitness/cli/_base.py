"""What every command needs and the fastest path can afford: standard library only.

``codewitness blame`` on a warm cache answers without Typer, Rich or SQLAlchemy (see
:mod:`codewitness.cli._blame`), so what it shares with the other commands lives here: the root
``--db`` override, the database URL, JSON on stdout and warnings on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

__all__ = ["colour", "database_url", "emit_json", "warn"]

#: The root ``--db`` option, when given; it wins over configuration and environment.
database_override: str | None = None


def database_url(db: str | None = None, start: Path | None = None) -> str:
    """The database a command uses: its own ``--db``, the root ``--db``, or the configured one."""
    if db or database_override:
        return db or database_override or ""
    from codewitness.config import load_config

    return load_config(start).database_url


def colour(stream: IO[str]) -> bool:
    """Whether to colour what goes to ``stream``: a terminal, and neither ``NO_COLOR`` nor ``TERM=dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str, ensure_ascii=False) + "\n")


def warn(message: str, count: int = 1) -> None:
    """One warning on stderr: ``warning: ... (3x)``."""
    label = "\x1b[33mwarning:\x1b[0m" if colour(sys.stderr) else "warning:"
    sys.stderr.write(f"{label} {message}" + (f" ({count}x)" if count > 1 else "") + "\n")
