"""What the hook and MCP latency benchmarks share: runtime rows written straight into a SQLite store,
and the percentile they report."""

from __future__ import annotations

_SOURCE = "id, service, revision, host, pid, function, origin, ai_share, generation_ids, models, path, line"
#: Named columns: later migrations add columns (rollup, fingerprint, count) with defaults.
INSERT_AGGREGATE = (
    f"INSERT INTO runtime_aggregates ({_SOURCE}, interval_start, interval_end, calls, error_count, errors, "
    "histogram, total_ns, max_ns, ingested_at) VALUES (" + ",".join("?" * 21) + ")"
)
INSERT_EXCEPTION = (
    f"INSERT INTO runtime_exceptions ({_SOURCE}, time, type, message, stack, arguments, ingested_at) "
    "VALUES (" + ",".join("?" * 18) + ")"
)
INSERT_BREACH = (
    f"INSERT INTO runtime_breaches ({_SOURCE}, time, rule, rule_kind, expression, mode, arguments, result, detail, "
    "ingested_at) VALUES (" + ",".join("?" * 21) + ")"
)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
