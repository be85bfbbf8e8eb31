"""``codewitness alerts``: firings stored with their evidence, deduplicated, cleared, and delivered to real
receivers on loopback (a webhook, a log file, stdout), including a webhook that is down."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

from metrics_helpers import Project, Receiver

from codewitness.config import load_config
from codewitness.metrics.alerts import check
from codewitness.store.metrics import list_alerts
from codewitness.views.metrics import metrics_view


def _forty(bad: bool) -> str:
    parts = []
    for n in range(1, 41):
        body = (
            "    import notarealpkg_zq\n\n    return notarealpkg_zq.f(x)\n"
            if bad and n == 7
            else f"    return x + {n}\n"
        )
        parts.append(f"def f{n:02d}(x):\n{body}")
    return "\n\n".join(parts)


def _setup(project: Project, receiver: Receiver, *, channels: str, extra: str = "") -> None:
    project.config(
        f'[check]\nindex_url = "{receiver.url}/simple"\n'
        '[metrics]\ndisable = ["context_adherence"]\n'
        f'[alerts]\nchannels = {channels}\nwebhook_url = "{receiver.url}/hook"\nbackoff = 0.0\n{extra}'
    )
    project.claude_write("app/funcs.py", _forty(bad=True), prompt="Write forty helpers.")
    project.commit("Helpers")


def test_a_breach_fires_once_is_delivered_to_every_channel_and_clears(project: Project, receiver: Receiver) -> None:
    _setup(project, receiver, channels='["webhook", "log", "stdout"]')
    first = project.codewitness("alerts", "check")
    assert first.returncode == 1, first.stdout + first.stderr
    assert (
        "ALERT high metric hallucination_rate: hallucination rate 2.5% (alert > 2.0%) over 40 AI functions"
        in first.stdout
    )
    hooks = receiver.posts("/hook")
    assert len(hooks) == 1
    body = hooks[0].json()
    assert body["source"] == "codewitness"
    alert = body["alert"]
    assert alert["condition"] == "metric:hallucination_rate" and alert["status"] == "firing"
    assert alert["evidence"]["value"] == 0.025 and alert["evidence"]["samples"] == 40
    assert alert["evidence"]["worst"] == ["app.funcs.f07"]
    logged = (project.root / ".codewitness" / "alerts.log").read_text().splitlines()
    assert [json.loads(line)["id"] for line in logged] == [alert["id"]]

    # The same condition again: still firing, the same alert, nobody told twice.
    again = project.codewitness("alerts", "check", "--json")
    assert again.returncode == 1
    data = json.loads(again.stdout)
    assert data["new"] == [] and [a["id"] for a in data["firing"]] == [alert["id"]]
    assert len(receiver.posts("/hook")) == 1
    assert len((project.root / ".codewitness" / "alerts.log").read_text().splitlines()) == 1

    listed = json.loads(project.codewitness("alerts", "list", "--json", check=True).stdout)
    assert [(a["id"], a["status"]) for a in listed] == [(alert["id"], "firing")]
    assert listed[0]["deliveries"]["webhook"]["ok"] is True

    acked = project.codewitness("alerts", "ack", alert["id"][:10], "--note", "known: being fixed", check=True)
    assert f"acknowledged {alert['id']}" in acked.stdout

    # The agent drops the made-up import: the condition clears; the check passes.
    project.claude_write("app/funcs.py", _forty(bad=False), prompt="Remove the unknown package.")
    project.commit("Fix")
    fixed = project.codewitness("alerts", "check", "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    result = json.loads(fixed.stdout)
    assert result["fired"] is False
    assert [a["id"] for a in result["cleared"]] == [alert["id"]]
    final = json.loads(project.codewitness("alerts", "list", "--json", check=True).stdout)
    assert final[0]["status"] == "cleared" and final[0]["ack_note"] == "known: being fixed"


def test_slack_compatible_payload(project: Project, receiver: Receiver) -> None:
    _setup(project, receiver, channels='["webhook"]', extra='webhook_format = "slack"\n')
    assert project.codewitness("alerts", "check").returncode == 1
    (hook,) = receiver.posts("/hook")
    body = hook.json()
    assert set(body) == {"text"}
    assert body["text"].startswith("codewitness alert [high] in repo: hallucination rate 2.5%")
    assert hook.headers["content-type"] == "application/json"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_webhook_is_reported_and_never_blocks_the_check(project: Project, receiver: Receiver) -> None:
    _setup(project, receiver, channels='["webhook", "log"]', extra="retries = 2\n")
    dead = f"http://127.0.0.1:{_closed_port()}/hook"  # nothing listens there
    loaded = load_config(project.root, environ={"CODEWITNESS_ALERTS_WEBHOOK_URL": dead})
    waits: list[float] = []
    started = time.monotonic()
    with project.store() as store:
        view = metrics_view(store, project.root, loaded.config.metrics)
        result = check(store, project.root, loaded.config, view, sleep=waits.append)
    assert time.monotonic() - started < 120
    assert result.fired and len(result.new) == 1
    webhook = [d for d in result.deliveries if d.channel == "webhook"]
    assert len(webhook) == 1 and not webhook[0].ok and webhook[0].attempts == 3
    assert "webhook unreachable" in (webhook[0].error or "")
    assert waits == [0.0, 0.0]  # backoff 0: two waits between three attempts
    assert [d.ok for d in result.deliveries if d.channel == "log"] == [True]
    with project.store() as store:
        (stored,) = list_alerts(store)
    assert stored.deliveries["webhook"]["ok"] is False and stored.deliveries["log"]["ok"] is True


def test_a_failing_webhook_is_retried_with_doubling_backoff(project: Project, receiver: Receiver) -> None:
    _setup(project, receiver, channels='["webhook"]', extra="retries = 3\n")
    receiver.answers["/hook"] = (500, b"down", "text/plain")
    loaded = load_config(project.root, environ={"CODEWITNESS_ALERTS_BACKOFF": "0.25"})
    waits: list[float] = []
    with project.store() as store:
        view = metrics_view(store, project.root, loaded.config.metrics)
        result = check(store, project.root, loaded.config, view, sleep=waits.append)
    assert len(receiver.posts("/hook")) == 4
    assert waits == [0.25, 0.5, 1.0]
    assert result.deliveries[0].error == "HTTP 500 from the webhook"


def test_the_cli_warns_about_undelivered_alerts_on_stderr(project: Project, receiver: Receiver) -> None:
    _setup(project, receiver, channels='["webhook"]', extra="retries = 0\n")
    receiver.answers["/hook"] = (503, b"", "text/plain")
    proc = project.codewitness("alerts", "check")
    assert proc.returncode == 1
    assert "not delivered by webhook after 1 attempt(s): HTTP 503 from the webhook" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_alert_and_bad_status_are_one_line_errors(project: Project) -> None:
    proc = project.codewitness("alerts", "ack", "al_nope")
    assert (
        proc.returncode == 1
        and proc.stderr.strip() == "codewitness: error: no alert 'al_nope'; `codewitness alerts list` shows them"
    )
    proc = project.codewitness("alerts", "list", "--status", "open")
    assert proc.returncode == 2 and proc.stderr.startswith("codewitness: error: --status is one of firing, cleared")


_APP = """
import sys
import time

from app.svc import handle

slow = sys.argv[1] == "slow"
for n in range(120):
    try:
        handle(n, slow)
    except ValueError:
        pass
"""


def test_runtime_rules_fire_on_real_sensor_facts(project: Project) -> None:
    """AI error rate and a p95 regression between two revisions, from `codewitness run` and `ingest`."""
    project.config(
        '[metrics]\ndisable = ["hallucination_rate", "security_vulnerability_rate", "context_adherence"]\n'
        '[alerts]\nchannels = ["log"]\np95_regression = 0.5\nerror_rate = 0.05\nmin_calls = 50\n'
    )
    code = (
        "import time\n\n\ndef handle(n, slow):\n    time.sleep(0.004 if slow else 0.0002)\n"
        "    if n % 10 == 0:\n        raise ValueError(n)\n    return n\n"
    )
    project.claude_write("app/svc.py", code, prompt="Write handle(n, slow).")
    project.write("run_app.py", _APP)
    for label in ("fast", "slow"):
        project.commit(f"revision {label}")
        project.codewitness("manifest", "build", check=True)
        ran = project.codewitness(
            "run", "--service", "svc", "--interval", "0.2", "--", sys.executable, "run_app.py", label
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        project.codewitness("ingest", check=True)
        project.write("app/notes.txt", f"{label}\n")  # the next commit is another revision
    proc = project.codewitness("alerts", "check", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    firing = {a["rule"]: a for a in json.loads(proc.stdout)["firing"]}
    assert firing["ai_error_rate"]["evidence"]["calls"] == 240
    assert firing["ai_error_rate"]["evidence"]["errors"] == 24  # n % 10 == 0: 12 of 120, twice
    regression = firing["p95_regression"]
    assert regression["subject"] == "app.svc.handle"
    assert regression["evidence"]["growth"] > 0.5
    assert regression["evidence"]["revision"] != regression["evidence"]["previous_revision"]


def test_alerts_check_with_nothing_recorded_passes(project: Project) -> None:
    proc = project.codewitness("alerts", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no alert fires" in proc.stdout
    assert "not judged" in proc.stderr


def test_log_channel_that_cannot_work_says_why(project: Project, receiver: Receiver, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    _setup(project, receiver, channels='["log"]', extra=f'log_file = "{folder}"\n')
    proc = project.codewitness("alerts", "check")
    assert proc.returncode == 1
    assert f"not delivered by log after 0 attempt(s): alerts.log_file {folder} is a folder" in proc.stderr
