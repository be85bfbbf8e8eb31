"""The ``stdout`` channel: one line per new alert on standard output (for cron mail, CI logs, a pipe).

Example:
    >>> setup(AlertsSection(), Path(".")).send(alert)  # doctest: +SKIP
    ALERT high metric hallucination_rate: hallucination rate 2.5% > 2.0% (40 samples)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from codewitness.config import AlertsSection
from codewitness.metrics.channels import DeliveryError

if TYPE_CHECKING:
    from codewitness.store.metrics import Alert

__all__ = ["IDENTIFIER", "cannot_enable", "setup"]

IDENTIFIER = "stdout"


def cannot_enable(settings: AlertsSection, root: Path) -> str | None:
    """Standard output is always there."""
    return None


class _Stdout:
    def send(self, alert: Alert) -> None:
        line = " ".join(f"ALERT {alert.severity} {alert.rule} {alert.subject}: {alert.message}".split())
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except OSError as exc:  # a closed pipe
            raise DeliveryError(f"cannot write to standard output: {exc}") from None


def setup(settings: AlertsSection, root: Path) -> _Stdout:
    """A sender writing to the process's standard output."""
    return _Stdout()
