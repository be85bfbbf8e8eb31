"""The request each event happened in: the flow context stored beside exceptions, breaches, samples.

The sensor's flow integrations give every event captured inside a request (or a job) a ``flow``
field: method, route, path parameters, query, request id, and the statements the request ran
before the event, redacted. Ingest keeps it in ``runtime_event_flows`` (migration 0012) under the
event's id; this module reads it back.

Example:
    >>> event_flows(store, [exception_id])[exception_id]["route"]  # doctest: +SKIP
    '/orders/{order_id}'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from codewitness.store import Store, schema

__all__ = ["event_flows"]

_CHUNK = 500


def event_flows(store: Store, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The flow context of each event in ``ids`` that has one (events outside a request have none)."""
    wanted = list(dict.fromkeys(ids))
    t = schema.runtime_event_flows
    found: dict[str, dict[str, Any]] = {}
    with store.read() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for event_id, flow in conn.execute(select(t.c.id, t.c.flow).where(t.c.id.in_(chunk))):
                value = json.loads(flow) if isinstance(flow, str) else flow
                if isinstance(value, dict):
                    found[event_id] = value
    return found
