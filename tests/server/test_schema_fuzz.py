"""Schemathesis over the server's OpenAPI schema: whatever a request holds, the answer is never a 5xx.

Generated requests go to a real server on a seeded SQLite store, with a valid token (so writes are
tried too, not only refused at the door).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from codewitness.store import open_store
from codewitness.store.tokens import create_token
from tests.runtime_records import aggregate, breach, exception, review

from .conftest import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("fuzz")
    subprocess.run(
        ["git", "init", "-q", "-b", "main"], cwd=root, check=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    )
    db = f"sqlite:///{root / 'witness.db'}"
    with open_store(db) as store:
        token = create_token(store, "fuzz").secret
    process, url = start_server(db, root, Path(root) / "server.log")
    rows = [
        aggregate("shop.pricing.total", [1000, 2000]),
        exception("shop.pricing.total", "boom"),
        breach("shop.pricing.refund", "refund_never_exceeds_payment"),
        review("shop.pricing.refund"),
    ]
    body = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    requests.post(
        f"{url}/api/v1/ingest",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
        timeout=30,
    ).raise_for_status()
    try:
        yield {"url": url, "token": token}
    finally:
        process.terminate()
        process.wait(10)


def test_no_request_gets_a_server_error(server: dict[str, str]) -> None:
    api = schemathesis.openapi.from_url(f"{server['url']}/api/v1/openapi.json")
    api.config.update(base_url=server["url"])
    headers = {"Authorization": f"Bearer {server['token']}"}
    tried = []
    for found in api.get_all_operations():
        operation = found.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
    assert len(tried) >= 20, tried
