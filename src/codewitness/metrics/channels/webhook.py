"""The ``webhook`` channel: an HTTP POST of each new alert to ``alerts.webhook_url``.

Two payloads (``alerts.webhook_format``):

* ``json`` -- ``{"source": "codewitness", "project": ..., "alert": {...}}`` with the alert document;
* ``slack`` -- a Slack-compatible incoming-webhook message: ``{"text": ...}`` with one line of
  summary and the evidence's key numbers (Mattermost and Rocket.Chat take the same shape).

Any 2xx answer is a delivery; anything else (a refused connection, a timeout, a 500) is a failed
attempt, retried by :func:`codewitness.metrics.channels.deliver`.

Example:
    >>> setup(AlertsSection(webhook_url="http://127.0.0.1:9/hook"), Path(".")).send(alert)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness._version import __version__
from codewitness.config import AlertsSection
from codewitness.metrics.channels import DeliveryError

if TYPE_CHECKING:
    from codewitness.store.metrics import Alert

__all__ = ["IDENTIFIER", "cannot_enable", "payload", "setup"]

IDENTIFIER = "webhook"


def cannot_enable(settings: AlertsSection, root: Path) -> str | None:
    """No URL, or one that is not http(s)."""
    url = settings.webhook_url.strip()
    if not url:
        return "alerts.webhook_url is empty"
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        return f"alerts.webhook_url must be an http:// or https:// URL, not {scheme or 'a bare name'}"
    return None


def payload(alert: Alert, settings: AlertsSection, project: str) -> dict[str, Any]:
    """The JSON body posted for ``alert``."""
    if settings.webhook_format == "slack":
        numbers = ", ".join(
            f"{key}={value}" for key, value in alert.evidence.items() if isinstance(value, int | float | str)
        )
        text = f"codewitness alert [{alert.severity}] in {project}: {alert.message}"
        return {"text": text + (f"\n{numbers}" if numbers else "") + f"\n(alert {alert.id}, rule {alert.rule})"}
    return {"source": "codewitness", "version": __version__, "project": project, "alert": alert.to_dict()}


class _Webhook:
    def __init__(self, settings: AlertsSection, project: str) -> None:
        self.settings = settings
        self.project = project

    def send(self, alert: Alert) -> None:
        body = json.dumps(payload(alert, self.settings, self.project), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - cannot_enable admits http(s) URLs only
            self.settings.webhook_url.strip(),
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"codewitness/{__version__}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.webhook_timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"HTTP {exc.code} from the webhook") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status} from the webhook")


def setup(settings: AlertsSection, root: Path) -> _Webhook:
    """A sender posting to ``alerts.webhook_url`` (the project is named by its folder)."""
    return _Webhook(settings, root.name)
