"""Alert rules: every quality metric and the runtime rules, judged once per ``codewitness alerts check``.

Rules (each firing names a *condition*; one alert stays open per condition until it clears):

* ``metric`` -- a quality metric on the bad side of its threshold (condition ``metric:<id>``); a
  metric that is ``n/a`` this time neither fires nor clears;
* ``ai_error_rate`` -- AI-written functions' errors per call in the window above ``alerts.error_rate``
  (with at least ``alerts.min_calls`` calls);
* ``p95_regression`` -- a function's p95 latency at its newest revision more than ``alerts.p95_regression``
  above its previous revision's (both with at least ``alerts.min_calls`` calls; condition
  ``p95_regression:<function>@<revision>``);
* ``breach`` -- invariant breaches of a function in the window (``alerts.breaches``);
* ``baseline`` -- a behaviour baseline whose latest check alarmed: more of its pinned inputs differ
  than the check's threshold allows, or none could be compared (condition ``baseline:<name>``). It
  clears when a later check is within the threshold (or, at the next ``alerts check``, once the
  baseline is deleted). ``codewitness baseline check`` judges its own baseline at once
  (:func:`judge_baseline`), so an alarm is an alert, delivered, the moment it is found.

:func:`check` stores each firing with its evidence (:mod:`codewitness.store.metrics`), clears the open
alerts whose condition no longer holds, and delivers the *new* ones through the configured channels
(:mod:`codewitness.metrics.channels`).

Example:
    >>> result = check(store, Path("."), config, metrics_view(store, Path("."), config.metrics))  # doctest: +SKIP
    >>> [a.condition for a in result.new], result.fired  # doctest: +SKIP
    (['metric:hallucination_rate'], True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codewitness.config import AlertsSection, Config
from codewitness.metrics.channels import Delivery, deliver
from codewitness.metrics.definitions import metric

if TYPE_CHECKING:
    from codewitness.store import Store
    from codewitness.store.metrics import Alert, Firing
    from codewitness.views.metrics import MetricsView

__all__ = [
    "RULES",
    "BaselineAlert",
    "CheckResult",
    "baseline_firing",
    "baseline_firings",
    "check",
    "judge_baseline",
    "runtime_firings",
]

#: Every rule id, in the order they are judged.
RULES = ("metric", "ai_error_rate", "p95_regression", "breach", "baseline")


@dataclass
class CheckResult:
    """What one check found and did.

    Attributes:
        firing: every alert whose condition holds now (new and already open), oldest first.
        new: the alerts that fired now for the first time (the ones delivered).
        cleared: open alerts whose condition no longer holds.
        deliveries: how each new alert went through each channel.
        view: the metrics the check judged.
        notes: rules that could not be judged, and why.
    """

    firing: list[Alert] = field(default_factory=list)
    new: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    view: MetricsView | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fired(self) -> bool:
        """Whether any condition holds (``alerts check`` exits 1)."""
        return bool(self.firing)

    def to_dict(self) -> dict[str, Any]:
        """The ``alerts check --json`` document."""
        return {
            "fired": self.fired,
            "firing": [a.to_dict() for a in self.firing],
            "new": [a.id for a in self.new],
            "cleared": [a.to_dict() for a in self.cleared],
            "deliveries": [d.to_dict() for d in self.deliveries],
            "notes": list(self.notes),
            "metrics": self.view.to_dict() if self.view is not None else None,
        }


def _metric_firings(view: MetricsView) -> tuple[list[Firing], set[str]]:
    """Firings of the metrics in breach, and the conditions that were judged (not ``n/a``)."""
    from codewitness.store.metrics import Firing

    firings, judged = [], set()
    markers = [m.to_dict() for m in view.markers]
    for result in view.metrics:
        condition = f"metric:{result.id}"
        if result.status == "n/a":
            continue
        judged.add(condition)
        if result.status != "breach":
            continue
        m = metric(result.id)
        firings.append(
            Firing(
                condition=condition,
                rule="metric",
                subject=result.id,
                severity="high",
                message=f"{m.title} {result.shown()} (alert {result.limit_shown()}) over {result.samples} {m.sample}s",
                evidence={
                    "value": result.value,
                    "threshold": result.threshold,
                    "samples": result.samples,
                    "window_since": view.window.since.isoformat(),
                    "trend": [p.value for p in result.trend],
                    "worst": list(result.worst),
                    "markers": markers,
                },
            )
        )
    return firings, judged


def runtime_firings(store: Store, settings: AlertsSection, since: Any) -> list[Firing]:
    """Firings of the runtime rules (AI error rate, p95 regressions, breaches) over facts since ``since``."""
    from codewitness.store.metrics import Firing, function_revisions
    from codewitness.store.queries import summarize

    firings: list[Firing] = []
    summaries = summarize(store, since=since)
    ai = [s for s in summaries if s["origin"] in ("ai", "mixed")]
    calls = sum(s["calls"] for s in ai)
    errors = sum(s["errors"] for s in ai)
    if calls >= settings.min_calls and errors / calls > settings.error_rate:
        worst = sorted(ai, key=lambda s: (-s["errors"], s["function"]))[:5]
        firings.append(
            Firing(
                condition="ai_error_rate",
                rule="ai_error_rate",
                subject="AI-written functions",
                severity="high",
                message=(
                    f"AI-written functions raised on {errors / calls:.1%} of {calls} calls "
                    f"(alert > {settings.error_rate:.1%})"
                ),
                evidence={
                    "calls": calls,
                    "errors": errors,
                    "error_rate": errors / calls,
                    "threshold": settings.error_rate,
                    "functions": [
                        {"function": s["function"], "calls": s["calls"], "errors": s["errors"]} for s in worst
                    ],
                },
            )
        )
    for function, revisions in sorted(function_revisions(store, since).items()):
        if len(revisions) < 2:
            continue
        (old, _), (new, _) = revisions[-2], revisions[-1]
        before = summarize(store, function=function, since=since, revision=old)
        after = summarize(store, function=function, since=since, revision=new)
        if not before or not after:
            continue
        a, b = before[0], after[0]
        if a["calls"] < settings.min_calls or b["calls"] < settings.min_calls or a["p95_ms"] <= 0:
            continue
        growth = b["p95_ms"] / a["p95_ms"] - 1
        if growth > settings.p95_regression:
            firings.append(
                Firing(
                    condition=f"p95_regression:{function}@{new}",
                    rule="p95_regression",
                    subject=function,
                    severity="medium",
                    message=(
                        f"{function}: p95 {b['p95_ms']:.2f} ms at {new[:12]}, up {growth:.0%} from "
                        f"{a['p95_ms']:.2f} ms at {old[:12]} (alert > {settings.p95_regression:.0%})"
                    ),
                    evidence={
                        "function": function,
                        "revision": new,
                        "previous_revision": old,
                        "p95_ms": b["p95_ms"],
                        "previous_p95_ms": a["p95_ms"],
                        "growth": growth,
                        "calls": b["calls"],
                        "previous_calls": a["calls"],
                        "origin": b["origin"],
                    },
                )
            )
    if settings.breaches:
        for s in summaries:
            if s["breach_count"]:
                rules = sorted({b["rule"] for b in s["breaches"]})
                firings.append(
                    Firing(
                        condition=f"breach:{s['function']}",
                        rule="breach",
                        subject=s["function"],
                        severity="high",
                        message=f"{s['function']} broke {', '.join(rules)} {s['breach_count']} time(s)",
                        evidence={
                            "function": s["function"],
                            "breaches": s["breach_count"],
                            "rules": rules,
                            "latest": s["breaches"][:3],
                            "origin": s["origin"],
                        },
                    )
                )
    return firings


def baseline_firing(check: Mapping[str, Any]) -> Firing | None:
    """The firing of one stored baseline check (:func:`codewitness.store.behavior.record_check`),
    or ``None`` when it did not alarm."""
    from codewitness.store.metrics import Firing

    if not check["alarm"]:
        return None
    name = check["baseline"]
    where = (check["revision"] or "")[:12] or "an unknown revision"
    if check["dirty"]:
        where += " with uncommitted changes"
    if check["compared"]:
        message = (
            f"baseline {name}: {check['differing']} of {check['compared']} pinned input(s) behave differently"
            f" at {where} ({check['share']:.1%}; alert > {check['threshold']:.1%})"
        )
    else:
        message = f"baseline {name}: no pinned input could be compared at {where} ({check['errors']} error(s))"
    functions = (check.get("summary") or {}).get("functions", [])
    return Firing(
        condition=f"baseline:{name}",
        rule="baseline",
        subject=name,
        severity="high",
        message=message,
        evidence={
            **{k: check[k] for k in ("checked_at", "revision", "dirty", "threshold", "share")},
            **{k: check[k] for k in ("compared", "equal", "differing", "errors", "nondeterministic")},
            "functions": [
                {"function": f["function"], "differing": f["differing"], "errors": f["errors"]}
                for f in functions
                if f["differing"] or f["errors"]
            ],
        },
    )


def baseline_firings(store: Store) -> list[Firing]:
    """Firings of the baselines whose latest check alarmed."""
    from codewitness.store.behavior import baseline_checks, baselines

    firings = []
    for pinned in baselines(store):
        last = pinned["last_check"]
        if last is None or not last["alarm"]:
            continue
        firing = baseline_firing(baseline_checks(store, pinned["name"], limit=1)[0])
        if firing is not None:
            firings.append(firing)
    return firings


@dataclass
class BaselineAlert:
    """What judging one baseline check did to its alert.

    Attributes:
        alert: the baseline's alert while it fires (``None`` when the check was within its threshold).
        new: the alert fired with this check (and was delivered now).
        cleared: the baseline's alert, cleared by this check (within its threshold again).
        deliveries: how the new alert went through each channel.
    """

    alert: Alert | None = None
    new: bool = False
    cleared: list[Alert] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``alert`` part of ``baseline check --json``."""
        return {
            "id": self.alert.id if self.alert is not None else None,
            "new": self.new,
            "cleared": [a.id for a in self.cleared],
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


def judge_baseline(
    store: Store,
    root: Path,
    check: Mapping[str, Any],
    settings: AlertsSection | None,
    *,
    skip_channels: dict[str, str] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> BaselineAlert:
    """Fire or clear the alert of the baseline ``check`` judged (only that baseline's), and deliver
    it when it is new.

    Args:
        store: the store.
        root: the project root (the log channel's file is relative to it).
        check: the stored check (:func:`codewitness.store.behavior.record_check`).
        settings: the channels to deliver a new alert through; ``None`` stores it without delivering.
        skip_channels: channels not to use this time, with the reason.
        sleep: how to wait between delivery attempts (tests pass a recorder).
    """
    import time

    from codewitness.store.metrics import clear, fire, open_alerts, record_delivery

    result = BaselineAlert()
    firing = baseline_firing(check)
    condition = f"baseline:{check['baseline']}"
    if firing is not None:
        result.alert, result.new = fire(store, firing)
    others = {a.condition for a in open_alerts(store) if a.rule == "baseline" and a.condition != condition}
    result.cleared = clear(store, others | ({condition} if firing is not None else set()), rules=("baseline",))
    if result.new and result.alert is not None and settings is not None:
        wait = sleep if sleep is not None else time.sleep
        result.deliveries = deliver([result.alert], settings, root, skip=skip_channels, sleep=wait)
        for delivery in result.deliveries:
            record_delivery(store, delivery.alert_id, delivery.channel, delivery.to_dict())
    return result


def check(
    store: Store,
    root: Path,
    config: Config,
    view: MetricsView,
    *,
    skip_channels: dict[str, str] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> CheckResult:
    """Judge every rule, store the firings, clear what no longer holds, deliver the new alerts.

    Args:
        store: the store (runtime facts, alerts).
        root: the project root.
        config: the whole configuration (``metrics`` and ``alerts``).
        view: the quality metrics of the window (:func:`codewitness.views.metrics.metrics_view`); the
            runtime rules look at the same window.
        skip_channels: channels not to use this time, with the reason.
        sleep: how to wait between delivery attempts (tests pass a recorder).
    """
    import time

    from codewitness.store.metrics import clear, fire, record_delivery

    result = CheckResult()
    result.view = view
    firings, judged = _metric_firings(view)
    for m in view.metrics:
        if m.status == "n/a":
            result.notes.append(f"{m.id} not judged: {m.reason}")
    firings.extend(runtime_firings(store, config.alerts, view.window.since))
    firings.extend(baseline_firings(store))
    holding = {f.condition for f in firings}
    for firing in firings:
        alert, new = fire(store, firing)
        result.firing.append(alert)
        if new:
            result.new.append(alert)
    # A metric not judged this time (n/a) keeps its alert open; the runtime rules are judged whole.
    open_metric = {a.condition for a in _open(store) if a.rule == "metric"}
    unjudged = open_metric - judged
    result.cleared = clear(store, holding | unjudged, rules=RULES)
    result.deliveries = deliver(
        result.new, config.alerts, root, skip=skip_channels, sleep=sleep if sleep is not None else time.sleep
    )
    for delivery in result.deliveries:
        record_delivery(store, delivery.alert_id, delivery.channel, delivery.to_dict())
    result.firing.sort(key=lambda a: (a.fired_at, a.id))
    return result


def _open(store: Store) -> list[Alert]:
    from codewitness.store.metrics import open_alerts

    return open_alerts(store)
