"""The ``log`` channel: one JSON line per new alert, appended to ``alerts.log_file``.

The file is created owner-only; each line is the alert document (``alerts list --json`` shape).

Example:
    >>> setup(AlertsSection(log_file=".codewitness/alerts.log"), Path(".")).send(alert)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness.config import AlertsSection
from codewitness.metrics.channels import DeliveryError

if TYPE_CHECKING:
    from codewitness.store.metrics import Alert

__all__ = ["IDENTIFIER", "cannot_enable", "setup"]

IDENTIFIER = "log"


def _path(settings: AlertsSection, root: Path) -> Path:
    path = Path(settings.log_file)
    return path if path.is_absolute() else root / path


def cannot_enable(settings: AlertsSection, root: Path) -> str | None:
    """An empty ``alerts.log_file``, or a path that is a folder."""
    if not settings.log_file.strip():
        return "alerts.log_file is empty"
    if _path(settings, root).is_dir():
        return f"alerts.log_file {_path(settings, root)} is a folder"
    return None


class _LogFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, alert: Alert) -> None:
        line = json.dumps(alert.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with open(fd, "a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc.strerror or exc}") from None


def setup(settings: AlertsSection, root: Path) -> _LogFile:
    """A sender appending to the log file (its folder is made if needed)."""
    from codewitness._statedir import make_dirs

    path = _path(settings, root)
    make_dirs(path.parent)
    return _LogFile(path)
