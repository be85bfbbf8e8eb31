"""The `codewitness check` / `codewitness deps` commands and the Claude Code hook mode, end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codewitness.cli import main
from tests.checks.conftest import git


@pytest.fixture
def gate_env(monkeypatch, index_server, tmp_path):
    monkeypatch.setenv("CODEWITNESS_CHECK_INDEX_URL", index_server.simple)
    monkeypatch.setenv("CODEWITNESS_CHECK_NPM_REGISTRY", index_server.npm)
    monkeypatch.setenv("HOME", str(tmp_path))
    return index_server


def test_check_json_sarif_md_and_exit_code(repo, gate_env, monkeypatch, capsys):
    (repo / "app.py").write_text("import json\n\ndef load(t):\n    return json.parse(t)\n")
    (repo / "requirements.txt").write_text("requests\n")
    monkeypatch.chdir(repo)
    code = main(["check", "--json", "--sarif", "out/r.sarif", "--md", "out/r.md"])
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in data["findings"]] == ["CW201"]
    assert data["findings"][0]["path"] == "app.py" and data["findings"][0]["line"] == 4
    sarif = json.loads((repo / "out/r.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "CW201"
    assert "CW201" in (repo / "out/r.md").read_text()
    assert main(["check", "--fail-on", "never"]) == 0


def test_baseline_accepts_existing_findings_only(repo, gate_env, monkeypatch, capsys):
    (repo / "app.py").write_text("import json\njson.parse('1')\n")
    monkeypatch.chdir(repo)
    assert main(["check", "--only", "apis", "--write-baseline", "cw-baseline.json"]) == 0
    assert main(["check", "--only", "apis", "--baseline", "cw-baseline.json"]) == 0
    # Moving the line does not break the match; a new finding does fail.
    (repo / "app.py").write_text("import json\n\n\njson.parse('1')\njson.parse_all('2')\n")
    capsys.readouterr()
    assert main(["check", "--only", "apis", "--baseline", "cw-baseline.json", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [f["message"].split()[-1] for f in data["findings"]] == ["'parse_all'"] and data["baselined"] == 1


def test_bad_options_are_usage_errors(repo, gate_env, monkeypatch, capsys):
    monkeypatch.chdir(repo)
    assert main(["check", "--only", "nonsense"]) == 2
    assert main(["check", "--fail-on", "sometimes"]) == 2
    assert main(["check", "--baseline", "missing.json"]) == 2
    assert main(["check", "no/such/path"]) == 2
    err = capsys.readouterr().err
    assert "unknown family nonsense" in err and "Traceback" not in err


def test_base_reports_only_changed_lines(repo, gate_env, monkeypatch, capsys):
    (repo / "old.py").write_text("import json\njson.parse('old')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "old code")
    (repo / "old.py").write_text("import json\njson.parse('old')\njson.parse('new')\n")
    monkeypatch.chdir(repo)
    capsys.readouterr()
    main(["check", "--only", "apis", "--base", "HEAD", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert [f["line"] for f in data["findings"]] == [3]
    assert main(["check", "--base", "no-such-rev"]) == 1


def test_deps_command_and_offline(repo, gate_env, monkeypatch, capsys):
    (repo / "requirements.txt").write_text("no-such-package-xyz\nrequests\n")
    monkeypatch.chdir(repo)
    assert main(["deps", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {f["rule"] for f in data["findings"]} == {"CW101"}
    verdicts = {row["name"]: row for row in data["packages"]}
    assert verdicts["requests"]["verdict"] == "ok" and verdicts["requests"]["versions"] == 3
    assert verdicts["requests"]["popularity_rank"] is not None and verdicts["requests"]["age_days"] > 3000
    assert verdicts["no-such-package-xyz"]["verdict"] == "problem" and verdicts["no-such-package-xyz"]["rules"] == [
        "CW101"
    ]
    assert main(["deps"]) == 1
    table = capsys.readouterr().out
    assert "verdict" in table and "ok" in table and "problem" in table
    asked = len(gate_env.requests)
    assert main(["deps", "--offline", "--json"]) == 1  # the cache knows the answer
    assert len(gate_env.requests) == asked
    (repo / "requirements.txt").write_text("flask\n")
    capsys.readouterr()
    assert main(["deps", "--offline", "--json"]) == 0
    assert [f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["CW107"]


def test_refresh_popular_from_loopback(repo, gate_env, monkeypatch):
    monkeypatch.chdir(repo)
    assert main(["deps", "refresh-popular", "--url", f"{gate_env.url}/top.json"]) == 0
    snapshot = (repo / ".codewitness/cache/popular-pypi.tsv").read_text()
    assert "1\tboto3" in snapshot and f"# source: {gate_env.url}/top.json" in snapshot
    from codewitness.checks.popular import load_popular

    assert load_popular(repo).rank("numpy") == 3 and load_popular(repo).rank("flask") is None
    assert main(["deps", "refresh-popular", "--url", f"{gate_env.url}/broken.json"]) == 2
    assert main(["deps", "refresh-popular"]) == 2  # no URL configured


def _hook(repo: Path, payload: dict | str, env: dict, agent: str = "claude") -> subprocess.CompletedProcess[str]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run(
        [sys.executable, "-m", "codewitness", "check", "--hook", agent],
        input=text,
        capture_output=True,
        text=True,
        cwd=repo,
        env=env,
        timeout=60,
    )


@pytest.fixture
def hook_env(gate_env, tmp_path):
    import os

    env = dict(os.environ)
    env.update(
        {
            "CODEWITNESS_CHECK_INDEX_URL": gate_env.simple,
            "CODEWITNESS_CHECK_NPM_REGISTRY": gate_env.npm,
            "HOME": str(tmp_path),
        }
    )
    return env


def test_hook_blocks_a_nonexistent_package(repo, hook_env):
    req = repo / "requirements.txt"
    req.write_text("requests\nno-such-package-xyz\n")
    payload = {
        "session_id": "s",
        "cwd": str(repo),
        "hook_event_name": "PostToolUse",
        "tool_name": "Edit",
        "tool_input": {
            "file_path": str(req),
            "old_string": "requests\n",
            "new_string": "requests\nno-such-package-xyz\n",
        },
        "tool_response": {"filePath": str(req)},
    }
    done = _hook(repo, payload, hook_env)
    assert done.returncode == 2
    assert "no-such-package-xyz" in done.stderr and "do not exist" in done.stderr


def test_hook_adds_context_for_suspicious_import(repo, hook_env):
    app = repo / "app.py"
    app.write_text("import json\nimport freshpkg\n")
    payload = {
        "cwd": str(repo),
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": str(app), "content": app.read_text()},
        "tool_response": {},
    }
    done = _hook(repo, payload, hook_env)
    assert done.returncode == 0
    context = json.loads(done.stdout)["hookSpecificOutput"]
    assert context["hookEventName"] == "PostToolUse" and "freshpkg" in context["additionalContext"]


def test_hook_is_silent_for_clean_edits_and_other_tools(repo, hook_env):
    app = repo / "app.py"
    app.write_text("import json\nimport requests\n")
    payload = {
        "cwd": str(repo),
        "hook_event_name": "PostToolUse",
        "tool_name": "Edit",
        "tool_input": {"file_path": str(app), "old_string": "", "new_string": "import requests\n"},
        "tool_response": {"originalFile": "import json\n"},
    }
    done = _hook(repo, payload, hook_env)
    assert (done.returncode, done.stdout) == (0, "")
    assert _hook(repo, {"tool_name": "Bash", "tool_input": {"command": "ls"}}, hook_env).returncode == 0


def test_hook_malformed_payload_is_a_non_blocking_error(repo, hook_env):
    done = _hook(repo, "{not json", hook_env)
    assert done.returncode == 1 and "not JSON" in done.stderr and "Traceback" not in done.stderr


def test_install_commands_in_recorded_ai_output_are_checked(repo, gate_env, monkeypatch, capsys):
    from codewitness import ledger
    from codewitness.model import FileRange, Generation
    from codewitness.store import open_store

    (repo / "app.py").write_text("def handler():\n    return 1\n")
    store = open_store(f"sqlite:///{repo / '.codewitness' / 'witness.db'}")
    try:
        gen = ledger.record(
            store,
            Generation.create(
                agent="claude-code",
                model="m",
                prompt="add a json helper",
                output="Run `pip install fastjsonx requests` first, then:\n```python\ndef handler(): ...\n```",
                files=(FileRange("app.py", 1, 2),),
            ),
        )
    finally:
        store.close()
    monkeypatch.chdir(repo)
    assert main(["check", "--only", "deps", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    [finding] = data["findings"]
    assert finding["rule"] == "CW101" and finding["path"] == "app.py" and finding["line"] == 1
    assert finding["properties"]["generation"] == gen.id and "fastjsonx" in finding["message"]


def test_cursor_after_file_edit_gets_additional_context(repo, hook_env):
    req = repo / "requirements.txt"
    req.write_text("requests\nno-such-package-xyz\nfreshpkg\n")
    payload = {
        "hook_event_name": "afterFileEdit",
        "workspace_roots": [str(repo)],
        "file_path": "requirements.txt",
        "edits": [{"old_string": "requests\n", "new_string": "requests\nno-such-package-xyz\nfreshpkg\n"}],
    }
    done = _hook(repo, payload, hook_env, agent="cursor")
    assert done.returncode == 0
    context = json.loads(done.stdout)["additional_context"]
    assert (
        "do not exist: no-such-package-xyz" in context
        and "freshpkg" in context
        and "requests" not in context.split("\n")[0]
    )
    assert _hook(repo, {"hook_event_name": "afterFileEdit"}, hook_env, agent="cursor").stdout == ""
    assert _hook(repo, payload, hook_env, agent="aider").returncode == 2


def test_summary_counts_test_code_and_undecided_names(repo, gate_env, monkeypatch, capsys):
    # The human summary says what was not reported and what could not be decided, instead of a silent "clean".
    (repo / "lazymod").mkdir()
    (repo / "lazymod" / "__init__.py").write_text(
        "import importlib\n\ndef __getattr__(name):\n    return importlib.import_module('.' + name, __name__)\n"
    )
    (repo / "tests").mkdir()
    login = 'def test_login(client):\n    client.login(password="hunter2-test")\n'
    (repo / "tests" / "test_login.py").write_text(login)
    (repo / "app.py").write_text("import lazymod\n\nlazymod.thing\nlazymod.other\n")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["check", "--only", "apis", "--only", "security"]) == 0
    err = capsys.readouterr().err
    assert "1 finding(s) in test code not reported" in err
    assert "2 name(s) undecided" in err and "lazymod (2)" in err
    assert main(["check", "--only", "apis", "--only", "security", "--provenance-since", "base", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["in_tests"] == 1 and data["undecided"] == {"lazymod": 2}


def test_hook_blames_the_edit_only_for_what_it_added(repo, hook_env):
    req = repo / "requirements.txt"
    req.write_text("requests\nno-such-package-xyz\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "an old mistake, not this edit's")
    req.write_text("requests\nno-such-package-xyz\nflask\n")
    patch = [{"oldStart": 2, "oldLines": 1, "newStart": 2, "newLines": 2, "lines": [" no-such-package-xyz", "+flask"]}]
    write = {
        "cwd": str(repo),
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": str(req), "content": req.read_text()},
    }
    for response in ({"type": "update", "structuredPatch": patch}, {"type": "update"}):  # the patch; the staged text
        done = _hook(repo, {**write, "tool_response": response}, hook_env)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_hook_reports_invented_apis_and_security_flaws_on_the_lines_the_edit_wrote(repo, hook_env):
    # Before: only package findings (CW1xx); an invented json.parse passed the hook silently.
    app = repo / "app.py"
    before = "import json\nimport subprocess\n\nOLD = json.parse\n"
    after = before + (
        "\n\ndef load(text, name):\n    subprocess.run(f'ls {name}', shell=True)\n    return json.parse(text)\n"
    )
    app.write_text(after)
    payload = {
        "cwd": str(repo),
        "hook_event_name": "PostToolUse",
        "tool_name": "Edit",
        "tool_input": {"file_path": str(app), "old_string": "", "new_string": ""},
        "tool_response": {"filePath": str(app), "originalFile": before},
    }
    done = _hook(repo, payload, hook_env)
    assert done.returncode == 2, done.stderr  # a high finding blocks, as the gate would fail
    assert "would fail the merge gate" in done.stderr
    assert "CW201" in done.stderr and "(app.py:9)" in done.stderr
    assert "(app.py:4)" not in done.stderr, "the line the edit did not write is not the edit's problem"
    assert re.search(r"CW30\d.*\(app\.py:8\)", done.stderr), done.stderr
    # --fail-on never: the same findings come back as context, nothing blocks.
    done = subprocess.run(
        [sys.executable, "-m", "codewitness", "check", "--hook", "claude", "--fail-on", "never"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=repo,
        env=hook_env,
        timeout=60,
    )
    assert done.returncode == 0
    context = json.loads(done.stdout)["hookSpecificOutput"]["additionalContext"]
    assert "CW201" in context and "(app.py:9)" in context


def test_hook_answers_codex_and_gemini_too(repo, hook_env):
    app = repo / "tool.py"
    app.write_text("import json\n\nvalue = json.parse('{}')\n")
    gemini = {
        "hook_event_name": "AfterTool",
        "tool_name": "write_file",
        "session_id": "s1",
        "cwd": str(repo),
        "tool_input": {"file_path": str(app), "content": app.read_text()},
    }
    done = _hook(repo, gemini, hook_env, agent="gemini")
    assert done.returncode == 2 and "CW201" in done.stderr, (done.returncode, done.stderr)
    codex = {
        "hook_event_name": "PostToolUse",
        "tool_name": "apply_patch",
        "tool_use_id": "call_1",
        "session_id": "s1",
        "cwd": str(repo),
        "tool_input": {
            "command": "*** Begin Patch\n*** Add File: tool.py\n+import json\n+\n+value = json.parse('{}')\n"
            "*** End Patch\n"
        },
    }
    done = _hook(repo, codex, hook_env, agent="codex")
    assert done.returncode == 2 and "CW201" in done.stderr and "(tool.py:3)" in done.stderr, done.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "codewitness", "check", "--help"],
        capture_output=True,
        text=True,
        env={**hook_env, "COLUMNS": "200"},
        check=True,
    ).stdout
    assert all(agent in help_text for agent in ("claude", "cursor", "codex", "gemini"))
