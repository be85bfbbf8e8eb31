"""``POST /api/v1/ingest`` on a real server (uvicorn on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from codewitness.store import open_store, schema
from tests.runtime_records import T0, aggregate, exception

from .conftest import LiveServer


def body(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))


def headers(server: LiveServer, batch: str | None = None) -> dict[str, str]:
    out = {**server.auth(), "Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
    if batch:
        out["X-Codewitness-Batch"] = batch
    return out


def stored(db: str) -> dict[str, int]:
    with open_store(db) as store, store.read() as conn:
        return {
            "aggregates": conn.execute(select(func.count()).select_from(schema.runtime_aggregates)).scalar_one(),
            "exceptions": conn.execute(select(func.count()).select_from(schema.runtime_exceptions)).scalar_one(),
        }


def records() -> list[dict[str, Any]]:
    return [
        aggregate("shop.pricing.total", [1000, 2000, 3000], {"TypeError": 1}),
        exception("shop.pricing.total", "bad input", when=T0),
    ]


def test_without_a_token_the_batch_is_refused_with_401(db_url: str, live_server: Any) -> None:
    server = live_server(db_url)
    answer = server.post("/api/v1/ingest", data=body(records()), headers={"Content-Encoding": "gzip"})
    assert answer.status_code == 401
    assert "token" in answer.json()["error"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = server.post(
        "/api/v1/ingest",
        data=body(records()),
        headers={"Authorization": "Bearer cw_not-a-token", "Content-Encoding": "gzip"},
    )
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.json()["error"]
    assert stored(db_url) == {"aggregates": 0, "exceptions": 0}


def test_a_gzip_batch_with_a_token_is_stored(db_url: str, live_server: Any) -> None:
    server = live_server(db_url)
    answer = server.post("/api/v1/ingest", data=body(records()), headers=headers(server, uuid.uuid4().hex))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["inserted"] == 2 and result["by_kind"] == {"aggregate": 1, "exception": 1}
    assert result["retry"] is False and result["bad"] == 0
    assert stored(db_url) == {"aggregates": 1, "exceptions": 1}
    plain = server.post(
        "/api/v1/ingest",
        data=b"".join(json.dumps(r).encode() + b"\n" for r in [aggregate("shop.x", [5])]),
        headers=server.auth(),
    )
    assert plain.status_code == 200 and plain.json()["inserted"] == 1


def test_a_retried_batch_is_counted_once(db_url: str, live_server: Any) -> None:
    server = live_server(db_url)
    batch, data = uuid.uuid4().hex, body(records())
    first = server.post("/api/v1/ingest", data=data, headers=headers(server, batch))
    again = server.post("/api/v1/ingest", data=data, headers=headers(server, batch))
    assert first.json()["inserted"] == 2
    assert again.status_code == 200 and again.json()["retry"] is True and again.json()["inserted"] == 0
    # The same records under another batch id (an exporter restarted mid-retry) add nothing either.
    other = server.post("/api/v1/ingest", data=data, headers=headers(server, uuid.uuid4().hex))
    assert other.json()["inserted"] == 0 and other.json()["duplicates"] == 2
    assert stored(db_url) == {"aggregates": 1, "exceptions": 1}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not gzip at all", "not gzip"),
        (gzip.compress(b'{"kind": "aggregate", "id": "a1"}\nnot json\n'), "line 2 is not JSON"),
        (gzip.compress(b'{"kind": "aggregate"}\n'), "line 1 is not a record"),
        (gzip.compress(b"[1, 2]\n"), "line 1 is not a record"),
        (gzip.compress(b"\xff\xfe\n"), "not UTF-8"),
        (gzip.compress(b'{"kind": "aggregate", "id": "a1"}\n')[:-6], "cut short"),
    ],
    # gzip stamps the time into its header: ids made from the bytes would differ run to run.
    ids=["not-gzip", "not-json", "record-without-id", "array", "not-utf8", "cut-short"],
)
def test_a_malformed_batch_is_400_and_nothing_is_stored(
    db_url: str, live_server: Any, data: bytes, problem: str
) -> None:
    server = live_server(db_url)
    good = b"".join(json.dumps(r).encode() + b"\n" for r in records())
    answer = server.post("/api/v1/ingest", data=data, headers=headers(server))
    assert answer.status_code == 400, answer.text
    assert problem in answer.json()["error"] and "nothing stored" in answer.json()["error"]
    # a good first line in a batch with a bad later line is not stored either
    mixed = server.post("/api/v1/ingest", data=gzip.compress(good + b"{oops\n"), headers=headers(server))
    assert mixed.status_code == 400
    assert stored(db_url) == {"aggregates": 0, "exceptions": 0}


def test_a_batch_whose_every_record_is_refused_is_422(db_url: str, live_server: Any) -> None:
    server = live_server(db_url)
    bad = [{**aggregate("shop.f", [1]), "calls": -5}]
    answer = server.post("/api/v1/ingest", data=body(bad), headers=headers(server))
    assert answer.status_code == 422
    assert "calls" in answer.json()["error"]
    partly = server.post("/api/v1/ingest", data=body([*bad, aggregate("shop.g", [1])]), headers=headers(server))
    assert partly.status_code == 200 and partly.json()["inserted"] == 1 and partly.json()["bad"] == 1
    assert stored(db_url)["aggregates"] == 1


def test_an_oversized_body_is_413(db_url: str, live_server: Any) -> None:
    server = live_server(db_url)
    too_big = server.post("/api/v1/ingest", data=b"x" * (9 << 20), headers=headers(server))
    assert too_big.status_code == 413 and "at most" in too_big.json()["error"]
    bomb = gzip.compress(b" " * (70 << 20))  # 70 MB of blanks: small on the wire, over the limit inflated
    assert len(bomb) < 1 << 20
    inflated = server.post("/api/v1/ingest", data=bomb, headers=headers(server))
    assert inflated.status_code == 413 and "decompressed" in inflated.json()["error"]
    assert stored(db_url) == {"aggregates": 0, "exceptions": 0}


def test_a_revoked_token_is_refused(db_url: str, live_server: Any) -> None:
    from codewitness.store.tokens import list_tokens, revoke_token

    server = live_server(db_url)
    assert server.post("/api/v1/ingest", data=body(records()), headers=headers(server)).status_code == 200
    with open_store(db_url) as store:
        revoke_token(store, list_tokens(store)[0].id)
    assert server.post("/api/v1/ingest", data=body(records()), headers=headers(server)).status_code == 401
