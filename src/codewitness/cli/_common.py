"""What every command shares: the stderr console, JSON output, config and store access."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from codewitness.config import LoadedConfig, load_config

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["console", "emit_json", "get_config", "open_store"]

#: The root ``--db`` option, when given; it wins over configuration and environment.
database_override: str | None = None

#: Human output: stderr, so stdout stays clean for ``--json``.
console = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str, ensure_ascii=False) + "\n")


def get_config(start: Path | None = None) -> LoadedConfig:
    """The effective configuration for the project around ``start`` (or the current folder)."""
    return load_config(start)


def open_store(db: str | None = None, start: Path | None = None) -> Store:
    """Open (and migrate) the configured store, or ``db`` when given."""
    from codewitness.store import open_store as _open

    return _open(db or database_override or get_config(start).database_url)
