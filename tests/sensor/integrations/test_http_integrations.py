"""The outbound HTTP integrations against a real loopback server: requests (through urllib3),
urllib3 itself, and httpx sync and async. Each call inside a flow becomes a statement
``GET 127.0.0.1:PORT/users/{id}`` -- ids folded, the query string (and the credentials it may
carry) left out -- with its status class and whether it had a timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import importlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from codewitness.config import SensorSection
from codewitness.facts import encode_batch
from codewitness.sensor.flow import job

pytestmark = pytest.mark.usefixtures("app")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path.startswith("/fail") else 404 if self.path.startswith("/missing") else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def sensor(app: Any, memory: Any, start: Any) -> Any:
    return start(app, memory, "wrapping", settings=SensorSection(integrations=("urllib3", "httpx", "httpx2")))


def calls(memory: Any) -> dict[str, dict[str, Any]]:
    return {r["statement"]: r for r in memory.of("dependency") if r["system"] == "http"}


def test_requests_calls_are_folded_by_id_and_keep_their_statuses_and_timeouts(
    sensor: Any, memory: Any, server: str
) -> None:
    requests = pytest.importorskip("requests")
    with job("sync"), requests.Session() as session:
        for user in (1, 22, 333):
            assert session.get(f"http://{server}/users/{user}?api_key=key_live_0123456789abcdef").status_code == 200
        assert session.get(f"http://{server}/users/4/orders/8d7c6b5a-0f1e-4d2c-9b8a-7f6e5d4c3b2a", timeout=2).ok
        assert session.get(f"http://{server}/fail", timeout=(1, 2)).status_code == 500
        assert session.get(f"http://{server}/missing").status_code == 404
    sensor.flush()
    seen = calls(memory)
    users = seen[f"GET {server}/users/{{id}}"]
    assert (users["calls"], users["max_per_request"], users["errors"]) == (3, 3, 0)
    assert users["details"] == {"2xx": 3, "no_timeout": 3}
    nested = seen[f"GET {server}/users/{{id}}/orders/{{id}}"]
    assert nested["details"] == {"2xx": 1}  # a timeout was given
    assert seen[f"GET {server}/fail"]["errors"] == 1 and seen[f"GET {server}/fail"]["details"] == {"5xx": 1}
    assert seen[f"GET {server}/missing"]["details"] == {"4xx": 1, "no_timeout": 1}
    assert b"key_live" not in encode_batch(memory.records).data


def test_urllib3_retries_are_one_call(sensor: Any, memory: Any, server: str) -> None:
    import urllib3

    pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=1, read=1))
    retry = urllib3.Retry(total=2, status_forcelist=[500], backoff_factor=0, raise_on_status=False)
    with job("retrying"):
        assert pool.request("GET", f"http://{server}/fail", retries=retry).status == 500
    sensor.flush()
    (call,) = calls(memory).values()
    assert (call["statement"], call["calls"], call["details"]) == (f"GET {server}/fail", 1, {"5xx": 1})


def test_httpx_sync_and_async_calls_are_reported(sensor: Any, memory: Any, server: str) -> None:
    httpx = pytest.importorskip("httpx")
    with job("httpx"), httpx.Client() as client:
        assert client.get(f"http://{server}/items/12345").status_code == 200
        assert client.get(f"http://{server}/items/67890", timeout=None).status_code == 200

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            with job("httpx async"):
                responses = await asyncio.gather(*(client.get(f"http://{server}/fail/{i}") for i in range(3)))
                assert {r.status_code for r in responses} == {500}

    asyncio.run(run())
    with pytest.raises(httpx.ConnectError), job("refused"), httpx.Client() as client:
        client.get("http://127.0.0.1:9/nothing-listens-here")
    sensor.flush()
    seen = calls(memory)
    items = seen[f"GET {server}/items/{{id}}"]
    assert items["calls"] == 2 and items["details"] == {"2xx": 2, "no_timeout": 1}  # httpx's default is 5 s
    failing = seen[f"GET {server}/fail/{{id}}"]
    assert (failing["route"], failing["calls"], failing["errors"]) == ("httpx async", 3, 3)
    refused = seen["GET 127.0.0.1:9/nothing-listens-here"]
    assert (refused["errors"], refused["details"]) == (1, {"error": 1})


def test_a_call_outside_any_flow_is_not_recorded(sensor: Any, memory: Any, server: str) -> None:
    requests = pytest.importorskip("requests")
    assert requests.get(f"http://{server}/users/1", timeout=1).ok
    sensor.flush()
    assert calls(memory) == {}


CALLERS = """
def with_requests(session, url):
    return session.get(url, timeout=2).status_code


def with_urllib3(pool, path):
    return pool.urlopen("GET", path).status


def with_httpx(client, url):
    return client.send(client.build_request("GET", url)).status_code


async def with_httpx_async(client, url):
    return (await client.send(client.build_request("GET", url))).status_code
"""


def test_each_call_names_the_watched_function_that_made_it(app: Any, memory: Any, start: Any, server: str) -> None:
    # The search for a call's issuer starts above the integration's own frames: it must not start
    # above the function that made the call (here right above the patched method, but for requests).
    requests = pytest.importorskip("requests")
    httpx = pytest.importorskip("httpx")
    import urllib3

    module = app.write("callers", CALLERS)
    manifest = app.manifest(("with_requests", "with_urllib3", "with_httpx", "with_httpx_async"))
    manifest = dataclasses.replace(
        manifest, functions=tuple(dataclasses.replace(f, module=module) for f in manifest.functions)
    )
    settings = SensorSection(integrations=("urllib3", "httpx"))
    sensor = start(app, memory, "wrapping", manifest=manifest, settings=settings)
    callers = importlib.import_module(module)
    with job("requests"), requests.Session() as session:
        assert callers.with_requests(session, f"http://{server}/a/1") == 200
    host, port = server.split(":")
    with job("urllib3"), urllib3.HTTPConnectionPool(host, int(port)) as pool:
        assert callers.with_urllib3(pool, "/b/1") == 200
    with job("httpx"), httpx.Client() as client:
        assert callers.with_httpx(client, f"http://{server}/c/1") == 200

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            with job("httpx async"):
                assert await callers.with_httpx_async(client, f"http://{server}/d/1") == 200

    asyncio.run(run())
    sensor.flush()
    issuers = {statement: call["function"] for statement, call in calls(memory).items()}
    assert issuers == {
        f"GET {server}/a/{{id}}": f"{module}.with_requests",
        f"GET {server}/b/{{id}}": f"{module}.with_urllib3",
        f"GET {server}/c/{{id}}": f"{module}.with_httpx",
        f"GET {server}/d/{{id}}": f"{module}.with_httpx_async",
    }


def test_a_call_s_details_are_its_status_class_and_no_timeout_remembered_for_a_bounded_few() -> None:
    from codewitness.sensor.integrations import _http

    for status in (*range(100, 1000), None):
        for no_timeout in (False, True):
            expected = {f"{status // 100}xx" if status else "error": 1} | ({"no_timeout": 1} if no_timeout else {})
            assert _http._details(status, no_timeout) == expected
            assert _http._details(status, no_timeout) == expected  # remembered or not, the same
    assert len(_http._DETAILS) <= 1024


def test_httpx_calls_are_shaped_from_the_url_as_sent_the_same_as_from_its_decoded_parts(
    sensor: Any, memory: Any, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx = pytest.importorskip("httpx")
    from codewitness.sensor.integrations import httpx as integration

    monkeypatch.setattr(integration, "MAX_SHAPES", 4)
    integration._SHAPES.clear()
    with job("shapes"), httpx.Client() as client:
        for _ in range(2):  # the second time from memory
            client.get(f"http://{server}/caf%C3%A9/menu%20items/42?token=tok_9f8e7d6c5b4a39281706")
            client.get(f"http://LOCALHOST:{server.split(':')[1]}/missing/7")
        for i in range(10):  # more shapes than remembered: the memory stays bounded, each still right
            client.get(f"http://{server}/page{i}/{i}")
            assert len(integration._SHAPES) <= 4
    sensor.flush()
    seen = calls(memory)
    assert seen[f"GET {server}/café/menu items/{{id}}"]["calls"] == 2
    assert seen[f"GET localhost:{server.split(':')[1]}/missing/{{id}}"]["calls"] == 2
    assert all(seen[f"GET {server}/page{i}/{{id}}"]["calls"] == 1 for i in range(10))
    assert b"tok_9f8e7d6c" not in encode_batch(memory.records).data


def test_a_sensor_started_again_with_other_redaction_shapes_its_calls_anew(
    app: Any, memory: Any, start: Any, server: str
) -> None:
    # The shapes of recent calls are remembered already redacted: before, a sensor started again in
    # the same process with a stricter redaction reused the first sensor's shapes, text and all.
    httpx = pytest.importorskip("httpx")
    requests = pytest.importorskip("requests")
    url = f"http://{server}/project-bluefalcon/report"
    for redact_patterns in [(), ("bluefalcon",)]:
        memory.records.clear()
        settings = SensorSection(integrations=("urllib3", "httpx"), redact_patterns=redact_patterns)
        sensor = start(app, memory, "wrapping", settings=settings)
        try:
            with job("again"), httpx.Client() as client:
                client.get(url)
                requests.get(url, timeout=5)
            sensor.flush()
        finally:
            sensor.shutdown()
        (statement,) = calls(memory)
        assert calls(memory)[statement]["calls"] == 2
        assert ("bluefalcon" in statement) is (not redact_patterns), statement
