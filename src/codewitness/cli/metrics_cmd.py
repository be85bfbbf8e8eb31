"""``codewitness metrics``, ``alerts check|list|ack`` and ``export otel``: quality over time, and telling people.

* ``codewitness metrics [--since 14d] [--by model|agent|prompt|author] [--cost] [--json]`` -- the eight
  quality metrics of the window: value, samples, threshold, status and trend, the changes (model,
  prompt version, agent context files) beside them, tokens and cost.
* ``codewitness alerts check`` -- judge every metric and the runtime rules; exit 1 when any fires.
* ``codewitness alerts list`` / ``alerts ack ID`` -- the stored firings.
* ``codewitness export otel [--since 1d] [--metrics]`` -- generations as ``gen_ai.*`` spans (and the
  metrics as gauges) to an OTLP/HTTP collector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from codewitness.cli._common import emit_json, err, get_config, open_store, out, styled, table, warn
from codewitness.metrics.definitions import metric

if TYPE_CHECKING:
    from rich.text import Text

    from codewitness.cli._common import Justify
    from codewitness.metrics.compute import MetricResult
    from codewitness.metrics.cost import CostLine
    from codewitness.views.metrics import MetricsView


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="The window: an age (14d, 24h) or a date; default metrics.window.")
]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="The merge gate answers from its package-index cache only (no network).")
]

_STATUS_STYLE = {"ok": "green", "breach": "bold red", "n/a": "dim"}
_ARROWS = {"up": "rising", "down": "falling", "flat": "flat"}


def register(app: typer.Typer) -> None:
    """Add ``metrics``, ``alerts`` and, to the ``export`` group ``attribution`` added before, ``export otel``."""
    app.command("metrics")(metrics)
    alerts_app = typer.Typer(help="Alert rules over the quality metrics and runtime facts.", no_args_is_help=True)
    alerts_app.command("check")(alerts_check)
    alerts_app.command("list")(alerts_list)
    alerts_app.command("ack")(alerts_ack)
    app.add_typer(alerts_app, name="alerts")
    for group in app.registered_groups:
        if group.name == "export" and group.typer_instance is not None:
            group.typer_instance.command("otel")(export_otel)


def _trend(result: MetricResult) -> str:
    m = metric(result.id)
    if not result.trend:
        return "-"
    from codewitness.metrics.definitions import format_value

    points = " ".join(format_value(m.unit, p.value) if p.value is not None else "." for p in result.trend)
    return points + (f" ({_ARROWS[result.direction]})" if result.direction else "")


def _rows(results: tuple[MetricResult, ...], group: str | None = None) -> list[list[str | Text]]:
    rows: list[list[str | Text]] = []
    for r in results:
        row: list[str | Text] = [] if group is None else [group]
        row += [
            r.title,
            r.shown() if r.value is not None else "n/a",
            str(r.samples),
            r.limit_shown(),
            styled((r.status.upper() if r.status == "breach" else r.status, _STATUS_STYLE[r.status])),
            _trend(r),
        ]
        rows.append(row)
    return rows


def _print_view(view: MetricsView, *, cost: bool) -> None:
    since = f"{view.window.since:%Y-%m-%d %H:%M}"
    err.print(f"quality metrics since {since} UTC: {view.generations} generation(s) recorded in the window")
    headers = ["metric", "value", "samples", "alert when", "status", f"trend ({view.window.points} parts)"]
    table(headers, _rows(view.metrics), justify={"value": "right", "samples": "right"}, no_wrap=("value",))
    for r in view.metrics:
        if r.status == "n/a":
            out.print(f"  {r.id}: n/a -- {r.reason}")
        if r.method:
            out.print(f"  {r.id}: measured by {r.method} similarity")
        if r.status == "breach" and r.worst:
            out.print(f"  {r.id}: worst: {', '.join(r.worst[:5])}")
    for r in view.metrics:
        for note in r.notes:
            err.print(f"note: {r.id}: {note}", style="dim")
    if view.by:
        out.print()
        out.print(styled((f"by {view.by}", "bold")))
        rows = [row for g in view.groups for row in _rows(g.metrics, g.group)]
        if rows:
            table([view.by, *headers], rows, justify={"value": "right", "samples": "right"})
        else:
            out.print(f"  no samples to group by {view.by}")
    out.print()
    if view.markers:
        out.print(styled(("changes in the window (trend part: what changed)", "bold")))
        for mk in view.markers:
            out.print(f"  {mk.time:%Y-%m-%d %H:%M}  part {mk.part + 1}  {mk.kind:<7}  {mk.detail}")
    else:
        out.print("no model, prompt version or agent context file changes in the window")
    if cost:
        _print_cost(view)


def _cost_rows(lines: list[CostLine], limit: int = 10) -> list[list[str]]:
    return [
        [
            line.key[:12] if len(line.key) == 40 else line.key,
            str(line.generations),
            str(line.input_tokens),
            str(line.output_tokens),
            f"${line.cost:.4f}" + (f" (+{line.unpriced} unpriced)" if line.unpriced else ""),
        ]
        for line in lines[:limit]
    ]


def _print_cost(view: MetricsView) -> None:
    c = view.cost
    out.print()
    if not c.total.generations:
        out.print(
            f"no token counts among the window's {view.generations} generation(s): Claude Code transcripts carry "
            "them (read at commit), pipelines pass --input-tokens/--output-tokens to `codewitness record`"
        )
        return
    out.print(styled(("tokens and cost", "bold")))
    headers = ["", "generations", "input tokens", "output tokens", "cost"]
    right: dict[str, Justify] = {h: "right" for h in headers[1:]}
    for title, lines in (
        ("total", [c.total]),
        ("model", list(c.by_model.values())),
        ("prompt", list(c.by_prompt.values())),
        ("commit", list(c.by_commit.values())),
    ):
        if lines:
            table([title, *headers[1:]], _cost_rows(lines), justify=right)
    if c.unpriced_models:
        warn(f"no [[metrics.prices]] entry for {', '.join(c.unpriced_models)}: their cost is not counted")
    if c.without_tokens:
        err.print(f"{c.without_tokens} generation(s) reported no tokens", style="dim")


def metrics(
    since: SinceOpt = None,
    by: Annotated[str | None, typer.Option("--by", help="Also per group: model, agent, prompt or author.")] = None,
    cost: Annotated[
        bool, typer.Option("--cost", help="Also print tokens and cost per model, prompt and commit.")
    ] = False,
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The eight quality metrics of AI-generated code: value, samples, threshold, status and trend."""
    from codewitness.views.metrics import metrics_view

    loaded = get_config()
    with open_store() as store:
        view = metrics_view(store, loaded.root, loaded.config.metrics, since=since, by=by, offline=offline)
    if as_json:
        emit_json(view.to_dict())
        return
    _print_view(view, cost=cost)


def alerts_check(
    since: SinceOpt = None,
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Judge every metric, runtime and baseline rule; store and deliver new firings; exit 1 when any condition holds."""
    from codewitness.metrics.alerts import check
    from codewitness.views.metrics import metrics_view

    loaded = get_config()
    skip = {"stdout": "--json: the alerts are in the JSON document"} if as_json else None
    with open_store() as store:
        view = metrics_view(store, loaded.root, loaded.config.metrics, since=since, offline=offline)
        result = check(store, loaded.root, loaded.config, view, skip_channels=skip)
    if as_json:
        emit_json(result.to_dict())
    else:
        if result.firing:
            rows = [
                [a.id, a.severity, a.rule, a.message, "new" if a in result.new else f"since {a.fired_at:%m-%d %H:%M}"]
                for a in result.firing
            ]
            table(["alert", "severity", "rule", "message", "state"], rows, no_wrap=("alert",))
        else:
            out.print("no alert fires: every judged metric and runtime rule is within its limits")
        for a in result.cleared:
            out.print(f"cleared: {a.id} {a.rule} {a.subject}")
        for note in result.notes:
            err.print(f"note: {note}", style="dim")
    for d in result.deliveries:
        if not d.ok:
            warn(f"alert {d.alert_id} not delivered by {d.channel} after {d.attempts} attempt(s): {d.error}")
    if result.fired:
        raise typer.Exit(1)


def alerts_list(
    status: Annotated[str | None, typer.Option("--status", help="Only firing or cleared alerts.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only those fired since then: 7d, 2026-11-01.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored alerts, newest first."""
    from codewitness._time import parse_since
    from codewitness.store.metrics import list_alerts

    with open_store() as store:
        found = list_alerts(store, status=status, since=parse_since(since) if since else None)
    if as_json:
        emit_json([a.to_dict() for a in found])
        return
    if not found:
        err.print(
            "no alerts stored" + (" that match" if status or since else ": `codewitness alerts check` judges the rules")
        )
        return
    rows = [
        [
            a.id,
            f"{a.fired_at:%Y-%m-%d %H:%M}",
            a.status,
            "acked" if a.acked_at else "",
            a.severity,
            a.rule,
            a.message,
        ]
        for a in found
    ]
    table(["alert", "fired (UTC)", "status", "ack", "severity", "rule", "message"], rows, no_wrap=("alert",))


def alerts_ack(
    alert: Annotated[str, typer.Argument(help="An alert id, or a unique prefix of one.")],
    note: Annotated[str | None, typer.Option("--note", help="Why, for whoever reads the alert next.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge an alert (it stays open until its condition clears; it is not announced again anyway)."""
    from codewitness.store.metrics import ack

    with open_store() as store:
        acked = ack(store, alert, note)
    if as_json:
        emit_json(acked.to_dict())
        return
    out.print(f"acknowledged {acked.id} ({acked.rule} {acked.subject}, {acked.status})")


def export_otel(
    since: Annotated[str, typer.Option("--since", help="Generations recorded since then: 1d, 2026-11-01.")] = "1d",
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint", help="OTLP/HTTP base URL (default otel.endpoint, then OTEL_EXPORTER_OTLP_ENDPOINT)."
        ),
    ] = None,
    with_metrics: Annotated[
        bool, typer.Option("--metrics", help="Also send the quality metrics of the window as gauges.")
    ] = False,
    offline: OfflineOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Send generation events as OpenTelemetry spans (gen_ai.* and codewitness.* attributes) over OTLP."""
    import dataclasses

    from codewitness._time import parse_since
    from codewitness.errors import CodewitnessError
    from codewitness.metrics.otel import export_generations, export_metrics

    loaded = get_config()
    config = loaded.config
    if endpoint:
        config = dataclasses.replace(config, otel=dataclasses.replace(config.otel, endpoint=endpoint))
    start = parse_since(since)
    with open_store() as store:
        spans = export_generations(store, loaded.root, config, since=start)
        gauges = None
        if with_metrics:
            from codewitness.views.metrics import metrics_view

            view = metrics_view(store, loaded.root, config.metrics, since=since, offline=offline)
            gauges = export_metrics(view, loaded.root, config)
    if as_json:
        emit_json({"spans": spans.to_dict(), "metrics": gauges.to_dict() if gauges else None})
    else:
        if spans.generations and spans.ok:
            out.print(f"{spans.spans} span(s) of {spans.generations} generation(s) sent to {spans.endpoint}/v1/traces")
        elif not spans.generations:
            out.print(f"no generations recorded since {start:%Y-%m-%d %H:%M} UTC: nothing sent")
        if gauges is not None and gauges.ok:
            out.print(f"{gauges.points} metric point(s) sent to {gauges.endpoint}/v1/metrics")
            for skipped in gauges.skipped:
                err.print(f"not sent: {skipped}", style="dim")
    failed = [r for r in (spans, gauges) if r is not None and not r.ok]
    if failed:
        raise CodewitnessError("; ".join(r.error or "export failed" for r in failed))
