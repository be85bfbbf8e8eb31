"""Where alert firings go: one module per channel, all of one shape.

Like sentry-python's integrations, every channel module has

* ``IDENTIFIER`` -- its name in ``alerts.channels`` (``stdout``, ``log``, ``webhook``);
* ``cannot_enable(settings, root) -> str | None`` -- why it cannot work here (no URL, a log folder
  that cannot be written), or ``None``;
* ``setup(settings, root) -> Sender`` -- the one-time setup; the sender's ``send(alert)`` delivers one
  alert or raises :class:`DeliveryError`.

:func:`deliver` sends the new alerts of one check through every configured channel, retrying a failed
attempt ``alerts.retries`` times with a doubling ``alerts.backoff``. A channel that fails every attempt
for one alert is given up for the rest of that check (reported, never retried for each alert), so a
dead endpoint costs one alert's retries and never blocks the check.

Example:
    >>> results = deliver(new_alerts, settings, Path("."))  # doctest: +SKIP
    >>> [(r.channel, r.ok, r.attempts) for r in results]  # doctest: +SKIP
    [('stdout', True, 1), ('webhook', False, 4)]
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from codewitness.config import ALERT_CHANNELS, AlertsSection

if TYPE_CHECKING:
    from codewitness.store.metrics import Alert

__all__ = ["ChannelModule", "Delivery", "DeliveryError", "Sender", "channel_module", "deliver"]


class DeliveryError(Exception):
    """One attempt to deliver an alert failed (the message says how)."""


class Sender(Protocol):
    """What a channel's ``setup`` returns."""

    def send(self, alert: Alert) -> None:
        """Deliver one alert; raises :class:`DeliveryError` when it did not arrive."""
        ...


class ChannelModule(Protocol):
    """The shape of every channel module."""

    IDENTIFIER: str

    def cannot_enable(self, settings: AlertsSection, root: Path) -> str | None:
        """Why the channel cannot work with these settings in this project, or ``None``."""
        ...

    def setup(self, settings: AlertsSection, root: Path) -> Sender:
        """The one-time setup: a sender for this check's alerts."""
        ...


def channel_module(name: str) -> ChannelModule:
    """The channel module called ``name`` (one of :data:`~codewitness.config.ALERT_CHANNELS`)."""
    if name not in ALERT_CHANNELS:
        raise KeyError(name)
    module: ChannelModule = importlib.import_module(f"{__name__}.{name if name != 'log' else 'logfile'}")
    return module


@dataclass(frozen=True)
class Delivery:
    """How delivering one alert through one channel went.

    Attributes:
        channel: the channel's identifier.
        alert_id: the alert.
        ok: it arrived.
        attempts: how many attempts were made (0: not tried, see ``error``).
        error: the last failure, or why it was not tried.
    """

    channel: str
    alert_id: str
    ok: bool
    attempts: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "channel": self.channel,
            "alert": self.alert_id,
            "ok": self.ok,
            "attempts": self.attempts,
            "error": self.error,
        }


def deliver(
    alerts: Sequence[Alert],
    settings: AlertsSection,
    root: Path,
    *,
    skip: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send ``alerts`` through every channel of ``settings.channels``.

    Args:
        alerts: the alerts to announce (the new ones of a check).
        settings: ``[tool.codewitness.alerts]``.
        root: the project root (the log channel's file is relative to it).
        skip: channels not to use this time, with the reason (``stdout`` under ``--json``).
        sleep: how to wait between attempts.

    Returns:
        One :class:`Delivery` per alert and channel.
    """
    results: list[Delivery] = []
    if not alerts:
        return results
    for name in dict.fromkeys(settings.channels):
        module = channel_module(name)
        reason = (skip or {}).get(name) or module.cannot_enable(settings, root)
        if reason is not None:
            results.extend(Delivery(name, a.id, False, 0, reason) for a in alerts)
            continue
        try:
            sender = module.setup(settings, root)
        except (OSError, ValueError, DeliveryError) as exc:
            results.extend(Delivery(name, a.id, False, 0, f"setup failed: {exc}") for a in alerts)
            continue
        dead: str | None = None
        for alert in alerts:
            if dead is not None:
                results.append(Delivery(name, alert.id, False, 0, f"not tried: {dead}"))
                continue
            results.append(_with_retries(name, sender, alert, settings, sleep))
            if not results[-1].ok:
                dead = f"the channel failed {results[-1].attempts} attempt(s) earlier in this check"
    return results


def _with_retries(
    name: str, sender: Sender, alert: Alert, settings: AlertsSection, sleep: Callable[[float], None]
) -> Delivery:
    error = None
    for attempt in range(1, settings.retries + 2):
        if attempt > 1:
            sleep(settings.backoff * 2 ** (attempt - 2))
        try:
            sender.send(alert)
        except DeliveryError as exc:
            error = str(exc)
            continue
        return Delivery(name, alert.id, True, attempt)
    return Delivery(name, alert.id, False, settings.retries + 1, error)
