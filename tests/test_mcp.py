"""The MCP server through the SDK's own client, over stdio, against a store a real captured project filled.

The project (:mod:`tests.agent_project`): Claude Code wrote ``app.calc.ratio`` (captured by the real
hooks, committed, linked), which raises ``ZeroDivisionError`` inside the person-written
``app.mathutil.divide`` on 100 calls under ``codewitness run``. The server is a subprocess
(``python -m codewitness.mcp``), as an agent starts it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from codewitness.mcp import bounded
from tests import agent_project
from tests.agent_project import BAD_CALLS, MODEL, PROMPT, AgentProject
from tests.conftest import GitRepo

TOOLS = {"function_context", "why", "problems", "check_code", "incidents", "insights", "schema", "query"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProject]:
    base = tmp_path_factory.mktemp("agent")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(base / "gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for name in [n for n in os.environ if n.startswith("CODEWITNESS_")]:
            mp.delenv(name)
        root = base / "repo"
        root.mkdir()
        repo = GitRepo(root)
        repo.git("init", "-q", "-b", "main")
        repo.git("config", "user.name", "Dana Developer")
        repo.git("config", "user.email", "dana@example.com")
        repo.git("config", "commit.gpgsign", "false")
        yield agent_project.build(repo)


def server(cwd: Path, db_url: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "codewitness.mcp", "--db", db_url], cwd=str(cwd), env=env
    )


def calls(params: StdioServerParameters, *requests: tuple[str, dict[str, Any]]) -> list[Any]:
    """Start the server, call each tool in turn, and return the results (stopping the server after)."""

    async def go() -> list[Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            return [await client.call_tool(name, args) for name, args in requests]

    return anyio.run(go)


def data(result: Any) -> dict[str, Any]:
    """A successful result's JSON (the text and the structured content say the same)."""
    assert not result.is_error, result.content[0].text
    parsed: dict[str, Any] = json.loads(result.content[0].text)
    assert parsed == result.structured_content
    return parsed


def error(result: Any) -> str:
    assert result.is_error, result
    text: str = result.content[0].text
    assert "Traceback" not in text
    return text


def test_problems_then_function_context_give_the_function_input_exception_generation_and_prompt(
    project: AgentProject,
) -> None:
    problems, context = calls(
        server(project.root, project.db_url),
        ("problems", {"since": "1h"}),
        ("function_context", {"file": "app/calc.py", "line": 6}),
    )
    found = data(problems)
    assert found["note"] is None and found["total"] == 1
    (ratio,) = found["functions"]
    assert ratio["function"] == "app.calc.ratio" and ratio["origin"] == "ai"
    assert ratio["problems"] == ["exception"] and ratio["exceptions"] == BAD_CALLS
    assert ratio["exception_types"] == {"ZeroDivisionError": BAD_CALLS}
    assert ratio["latest_exception"]["arguments"] == {"total": BAD_CALLS - 1, "count": 0}
    assert ratio["generation_ids"] == [project.generation_id]

    ctx = data(context)
    assert ctx["function"] == "app.calc.ratio" and (ctx["path"], ctx["start_line"]) == ("app/calc.py", 4)
    assert ctx["origin"] == "ai" and ctx["origin_source"] == "attribution" and ctx["ai_share"] == 1.0
    (generation,) = ctx["generations"]
    assert generation["id"] == project.generation_id and generation["prompt"] == PROMPT
    assert generation["model"] == MODEL and generation["agent"] == "claude-code"
    assert ctx["runtime"]["calls"] == 50 + BAD_CALLS and ctx["runtime"]["errors"] == BAD_CALLS
    newest = ctx["exceptions"][0]
    assert newest["type"] == "ZeroDivisionError" and newest["message"] == "division by zero"
    assert newest["arguments"] == {"total": BAD_CALLS - 1, "count": 0}
    assert newest["stack"][-1].endswith("app/mathutil.py:2 in divide")  # raised in the person's helper
    assert ctx["trend"] is None  # one revision ran
    assert ctx["reach"] is not None and ctx["reach"]["entry_points"] == []  # nothing in the repository calls it


def test_the_pre_tool_use_hook_for_that_file_says_the_same(project: AgentProject) -> None:
    pre = agent_project.claude_pre_tool_use(project.root, project.transcript, "app/calc.py", "x = 1\n", "toolu_again")
    pre.update(tool_name="Edit", tool_input={"file_path": str(project.root / "app/calc.py"), "old_string": "a"})
    answer = agent_project.hook(project.root, pre)
    document = json.loads(answer.stdout)
    assert document["hookSpecificOutput"]["hookEventName"] == "PreToolUse"
    context = document["hookSpecificOutput"]["additionalContext"]
    assert "app.calc.ratio" in context and "app/calc.py" in context
    assert f"ZeroDivisionError x{BAD_CALLS}" in context and "division by zero" in context
    assert f'{{"total": {BAD_CALLS - 1}, "count": 0}}' in context
    assert project.generation_id in context and PROMPT in context and MODEL in context
    assert "app/mathutil.py:2" in context and str(project.root) not in context
    assert len(context) <= 1500

    # A file nobody saw fail: nothing at all on stdout.
    quiet = dict(pre, tool_input={"file_path": str(project.root / "app/mathutil.py"), "old_string": "a"})
    assert agent_project.hook(project.root, quiet).stdout == b""


def test_incidents_group_the_exceptions_into_one_ai_incident_with_the_generation(project: AgentProject) -> None:
    (listed,) = calls(server(project.root, project.db_url), ("incidents", {"since": "1h"}))
    found = data(listed)
    (incident,) = found["incidents"]
    assert incident["function"] == "app.calc.ratio" and incident["key"] == "ZeroDivisionError"
    assert incident["count"] == BAD_CALLS and incident["events"] == BAD_CALLS
    assert incident["origin"] == "ai" and incident["generation_ids"] == [project.generation_id]
    assert incident["models"] == [MODEL] and incident["frames"] == ["ratio (calc.py)", "divide (mathutil.py)"]

    (shown,) = calls(server(project.root, project.db_url), ("incidents", {"id": incident["id"][:10]}))
    detail = data(shown)
    assert detail["incident"]["id"] == incident["id"]
    stack = [(f["qualname"], f["origin"], f["generation_ids"]) for f in detail["stack"]]
    assert stack == [("app.calc.ratio", "ai", [project.generation_id]), ("app.mathutil.divide", "human", [])]
    assert detail["samples"][0]["arguments"] == {"total": BAD_CALLS - 1, "count": 0}


def test_every_tool_answers(project: AgentProject) -> None:
    async def go() -> tuple[Any, list[Any]]:
        async with Client(server(project.root, project.db_url), read_timeout_seconds=120) as client:
            listed = await client.list_tools()
            results = [
                await client.call_tool("why", {"file": "app/calc.py", "line": 6}),
                await client.call_tool("schema", {}),
                await client.call_tool(
                    "query",
                    {"sql": "SELECT type, COUNT(*) AS n FROM cw_exceptions GROUP BY type", "max_rows": 5},
                ),
                await client.call_tool("query", {"sql": "SELECT id FROM cw_runtime", "max_rows": 1}),
                await client.call_tool("function_context", {"qualname": "app.calc.ratio"}),
            ]
            return listed, results

    listed, (why, schema, query, limited, by_name) = anyio.run(go)
    assert {t.name for t in listed.tools} == TOOLS
    for tool in listed.tools:
        assert tool.description and tool.input_schema["type"] == "object"
        assert tool.annotations is not None and tool.annotations.read_only_hint
    assert {"file", "line"} <= set(next(t for t in listed.tools if t.name == "why").input_schema["properties"])

    line = data(why)
    assert line["origin"] == "ai" and line["text"] == "    return divide(total, count)"
    assert line["generations"][0]["id"] == project.generation_id and line["generations"][0]["prompt"] == PROMPT
    assert [c["subject"] for c in line["changes"]] == ["ratio, written by Claude"]

    views = data(schema)["views"]
    assert {"cw_runtime", "cw_functions", "cw_exceptions", "cw_breaches", "cw_generations"} <= set(views)
    assert data(query)["rows"] == [["ZeroDivisionError", BAD_CALLS]]
    assert error(limited)  # cw_runtime has no id column: a clear error, not a crash
    assert "no such column" in error(limited)
    assert data(by_name)["path"] == "app/calc.py"


class _NoPackages(BaseHTTPRequestHandler):
    """A package index that knows no package (every name an agent invents is missing)."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"message": "not found"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def empty_index() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NoPackages)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/simple"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_check_code_finds_a_hallucinated_package_and_api(git_repo: GitRepo, empty_index: str) -> None:
    git_repo.write("codewitness.toml", f'[check]\nindex_url = "{empty_index}"\n')
    git_repo.write("app/__init__.py", "")
    git_repo.commit("start")
    proposed = "import json\n\nimport fastjsonx_turbo\n\n\ndef load(text):\n    return json.parse(text)\n"
    (checked,) = calls(
        server(git_repo.root, f"sqlite:///{git_repo.root / 'w.db'}"),
        ("check_code", {"path": "app/loader.py", "content": proposed}),
    )
    found = data(checked)
    rules = {(f["rule"], f["line"]) for f in found["findings"]}
    assert ("CW101", 3) in rules  # fastjsonx_turbo is on no index
    assert ("CW201", 7) in rules  # json has no parse
    assert all(f["path"] == "app/loader.py" for f in found["findings"])
    assert found["failed"] is True
    assert not (git_repo.root / "app" / "loader.py").exists()


def test_bad_input_gives_a_clear_error_and_the_server_goes_on(project: AgentProject) -> None:
    results = calls(
        server(project.root, project.db_url),
        ("function_context", {"qualname": "app.calc.nothing_here"}),
        ("function_context", {"file": "app/nowhere.py", "line": 3}),
        ("function_context", {"file": "app/calc.py", "line": 400}),
        ("function_context", {"file": "app/calc.py", "line": 1}),
        ("function_context", {"file": "app/calc.py"}),
        ("function_context", {"file": "app/calc.py", "line": "six"}),
        ("why", {"file": "app/calc.py"}),
        ("why", {"file": "app/calc.py", "line": 0}),
        ("problems", {"since": "yesterday-ish"}),
        ("problems", {"origin": "robots"}),
        ("incidents", {"id": "inc_nope"}),
        ("no_such_tool", {}),
        ("query", {"sql": "DELETE FROM generations"}),
        ("query", {"sql": "WITH x AS (SELECT 1) DELETE FROM generations"}),
        ("query", {"sql": "ATTACH DATABASE 'other.db' AS other"}),
        ("query", {"sql": "PRAGMA journal_mode = DELETE"}),
        ("query", {"sql": "SELECT 1; DROP TABLE generations"}),
        ("check_code", {"path": "../../elsewhere.py", "content": "x = 1\n"}),
        ("schema", {}),
    )
    messages = [error(r) for r in results[:-1]]
    assert "nothing is known about app.calc.nothing_here" in messages[0]
    assert "app/nowhere.py" in messages[1]
    assert "has 6 lines" in messages[2] and "past its end" in messages[2]
    assert "not inside a Python function" in messages[3]
    assert "give file and line" in messages[4]
    assert "line" in messages[5] and "integer" in messages[5]
    assert "line" in messages[6] and "required" in messages[6].lower()
    assert "greater than or equal to 1" in messages[7]
    assert "cannot read time" in messages[8]
    assert "origin is one of" in messages[9]
    assert "no incident inc_nope" in messages[10]
    assert "Unknown tool" in messages[11]
    assert "DELETE is refused" in messages[12]
    assert "may only read" in messages[13]
    assert "ATTACH is refused" in messages[14]
    assert "PRAGMA is refused" in messages[15]
    assert "one statement" in messages[16]
    assert "outside the project" in messages[17]
    assert "cw_runtime" in data(results[-1])["views"]  # still serving
    (count,) = calls(server(project.root, project.db_url), ("query", {"sql": "SELECT COUNT(*) FROM cw_generations"}))
    assert data(count)["rows"] == [[1]]  # nothing was deleted


def test_a_store_without_runtime_facts_says_why(git_repo: GitRepo) -> None:
    git_repo.write("app/__init__.py", "")
    git_repo.write("app/calc.py", "def half(x):\n    return x / 2\n")
    git_repo.commit("calc")
    problems, context, incidents, insights = calls(
        server(git_repo.root, f"sqlite:///{git_repo.root / '.codewitness' / 'witness.db'}"),
        ("problems", {}),
        ("function_context", {"file": "app/calc.py", "line": 2}),
        ("incidents", {}),
        ("insights", {}),
    )
    assert data(problems)["functions"] == [] and "no runtime facts" in data(problems)["note"]
    ctx = data(context)
    assert ctx["function"] == "app.calc.half" and ctx["runtime"] is None and ctx["origin"] == "human"
    assert "no runtime facts for this function" in ctx["note"]
    assert data(incidents)["incidents"] == [] and "runtime sensor" in data(incidents)["note"]
    assert data(insights)["insights"] == [] and "no runtime facts" in data(insights)["note"]


def test_insights_name_the_n_plus_one_and_its_function(git_repo: GitRepo) -> None:
    from codewitness.store import open_store
    from tests.runtime_records import dependency, ingest

    url = f"sqlite:///{git_repo.root / 'witness.db'}"
    with open_store(url) as store:
        ingest(store, [dependency("SELECT name FROM items WHERE id = ?", calls=30, requests=3)])
    listed, only_slower, bad = calls(
        server(git_repo.root, url),
        ("insights", {"since": None}),
        ("insights", {"since": None, "kind": "slower"}),
        ("insights", {"kind": "fast"}),
    )
    (found,) = data(listed)["insights"]
    assert (found["kind"], found["function"], found["origin"]) == ("n_plus_one", "shop.orders.load_items", "ai")
    assert found["evidence"]["per_request"] == 10 and found["generation_ids"] == ["gen_1"]
    assert data(only_slower)["insights"] == []
    assert "unknown insight kind fast" in error(bad)


def test_a_corrupt_store_is_a_clear_error(git_repo: GitRepo) -> None:
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit("a")
    broken = git_repo.root / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    problems, incidents, schema = calls(
        server(git_repo.root, f"sqlite:///{broken}"), ("problems", {}), ("incidents", {}), ("schema", {})
    )
    assert "cannot open" in error(problems) and "not a database" in error(problems)
    assert "cannot open" in error(incidents)
    assert data(schema)["views"]  # the server is still there
    assert broken.read_bytes() == b"this is not a database" * 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_streamable_http_needs_the_token(project: AgentProject) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["CODEWITNESS_TOKEN"] = "s3cret-token"
    proc = subprocess.Popen(
        [sys.executable, "-m", "codewitness", "mcp", "--http", "--port", str(port), "--db", project.db_url],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                refused = httpx2.post(url, json={}, timeout=5)
                break
            except httpx2.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert refused.status_code == 401
        assert httpx2.post(url, json={}, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401

        async def go() -> Any:
            headers = {"Authorization": "Bearer s3cret-token"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return await client.call_tool("incidents", {"since": "1h"})

        assert data(anyio.run(go))["incidents"][0]["count"] == BAD_CALLS
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout:
            assert proc.stdout.read() == b""  # nothing but the protocol, and HTTP carries that
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=600),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=10), inner, max_size=10),
    max_leaves=400,
)


@settings(max_examples=150, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=10), _json, max_size=8), limit=st.integers(min_value=400, max_value=5000))
def test_an_answer_fits_its_bound_or_says_what_it_left_out(doc: dict[str, Any], limit: int) -> None:
    shaped = bounded(doc, limit)
    text = json.dumps(shaped, ensure_ascii=False, separators=(",", ":"))
    assert len(text) <= limit
    if shaped is not doc:
        assert shaped["truncated"].startswith("the answer was cut")
