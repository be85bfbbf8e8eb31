"""``codewitness demo``: the whole story on a small project, in a folder you can explore afterwards.

Each capability adds one step to :data:`STEPS`; a step gets the demo project folder and the
open store, tells the story on stderr (narration, like progress: stdout stays free for the
``--json`` summary) -- each command it runs, with what that command printed -- and returns facts
for the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from codewitness.cli._common import emit_json, styled
from codewitness.cli._common import err as console
from codewitness.model import FileRange, Generation, utcnow

if TYPE_CHECKING:
    from codewitness.store import Store

Step = Callable[[Path, "Store"], dict[str, Any]]

_PROMPT_V1 = """You are writing shop/pricing.py.
Write total(items) returning the cart total in cents: the sum of price * quantity.
"""
_PROMPT_V2 = """You are writing shop/pricing.py.
Write total(items) returning the cart total in cents: the sum of price * quantity,
minus a 10% discount on orders over 100 EUR, rounded half-up.
"""
_OUTPUT_V1 = """def total(items):
    return sum(item.price * item.quantity for item in items)
"""
_OUTPUT_V2 = """def total(items):
    gross = sum(item.price * item.quantity for item in items)
    if gross > 10_000:
        gross = round(gross * 0.9)
    return gross
"""


def _pricing(
    prompt: str,
    output: str,
    *,
    files: tuple[FileRange, ...] = (),
    tokens: tuple[int | None, int | None] = (None, None),
    latency: float | None = None,
) -> Generation:
    """One generation of the demo's pipeline: the managed prompt ``pricing``, at temperature 0.2."""
    return Generation.create(
        agent="api",
        model="claude-sonnet-4-5-20250929",
        prompt=prompt,
        output=output,
        params={"temperature": 0.2},
        prompt_name="pricing",
        files=files,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        latency_ms=latency,
        created_at=utcnow(),
    )


def step_ledger(root: Path, store: Store) -> dict[str, Any]:
    """An API pipeline records three generations under one managed prompt that changes once."""
    from codewitness import ledger

    console.rule(styled(("1. The generation ledger", "bold")))
    records = [
        _pricing(_PROMPT_V1, _OUTPUT_V1, files=(FileRange("shop/pricing.py", 1, 2),), tokens=(412, 38), latency=1840.0),
        _pricing(_PROMPT_V1, _OUTPUT_V1),
        _pricing(_PROMPT_V2, _OUTPUT_V2, files=(FileRange("shop/pricing.py", 1, 5),), tokens=(465, 71), latency=2630.0),
    ]
    ids = []
    for number, generation in enumerate(records, 1):
        stored = ledger.record(store, generation, prompt_label=f"r{number}")
        ids.append(stored.id)
        console.print(f"recorded {stored.id}  prompt pricing@{stored.prompt_version}")
    console.print(f"the second recording was the same content: same id ({ids[0] == ids[1]}), one row")
    history = ledger.prompt_history(store, "pricing")
    console.print(f"prompt 'pricing' has {len(history)} versions; what changed between them:")
    console.print(ledger.prompt_diff(store, "pricing@1", "pricing@2"))
    return {"generations": sorted(set(ids)), "prompt_versions": len(history)}


_SHOP = """\
def total(items, coupon=None):
    \"\"\"Cart total in cents: price * quantity, 10% off above 100 EUR, HALF halves it.\"\"\"
    gross = sum(price * qty for price, qty in items)
    if coupon == "HALF":
        return gross // 2
    if gross > 10_000:
        return round(gross * 0.9)
    return gross


def refund(amount, paid):
    \"\"\"How much to give back for a return.\"\"\"
    if amount < 0:
        raise ValueError("a refund cannot be negative")
    return amount
"""
_HUMAN_EDIT = ("round(gross * 0.9)", "round(gross * 0.85)")
_HUMAN_FUNCTION = """

def describe(items):
    return f"{len(items)} item(s)"
"""
_APP = """\
from shop.pricing import refund, total

for _ in range(200):
    total([(1999, 2), (500, 1)])
    total([(6000, 2)], coupon="HALF")
refund(500, paid=1000)
refund(1500, paid=1000)  # the AI's refund has no cap: the invariant catches it
try:
    total([("1999", "two")])  # a bad input from a client: captured with its arguments
except TypeError:
    pass
"""
_FLAWED = """\
import json
import logging
import sqlite3

import requests

log = logging.getLogger(__name__)
DB_PASSWORD = "changeme"


def load_order(db: sqlite3.Connection, order_id: str):
    return db.execute(f"SELECT * FROM orders WHERE id = '{order_id}'").fetchone()


def fetch_rates(api_token: str):
    log.info("fetching rates with token %s", api_token)
    response = requests.get("https://rates.example.com/latest", headers={"Authorization": api_token})
    return json.parse(response.text)
"""
_MODEL = "claude-sonnet-4-5-20250929"
_SESSION = "0d9f3c2e-5b7a-4e61-9c0d-2a8b4f6e1d37"


def _cli(root: Path, *args: str, stdin: str | None = None, show: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one real codewitness command in the demo project, showing what it prints (unless ``show`` is off)."""
    if show:
        console.print(f"$ codewitness {' '.join(args)}", style="bold cyan")
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=_demo_env(),
    )
    shown = (proc.stdout + proc.stderr).rstrip()
    if shown and show:
        console.print(shown)
    return proc


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(proc.stdout) if proc.stdout.strip() else None
    except json.JSONDecodeError:
        return None


def _demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env.setdefault("COLUMNS", "120")
    return env


def _git(root: Path, *args: str, days_ago: int | None = None) -> str:
    env = _demo_env()
    if days_ago is not None:  # the shop's history began before the metrics window
        from datetime import timedelta

        stamp = (utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, env=env)
    return proc.stdout


def _claude_payload(root: Path, event: str, content: str, transcript: Path) -> str:
    payload: dict[str, Any] = {
        "session_id": _SESSION,
        "transcript_path": str(transcript),
        "cwd": str(root),
        "permission_mode": "acceptEdits",
        "hook_event_name": event,
        "tool_name": "Write",
        "tool_input": {"file_path": str(root / "shop" / "pricing.py"), "content": content},
        "tool_use_id": "toolu_demo_write_pricing",
    }
    if event == "PostToolUse":
        payload["tool_response"] = {
            "type": "create",
            "filePath": str(root / "shop" / "pricing.py"),
            "content": content,
            "structuredPatch": [],
            "originalFile": None,
        }
    return json.dumps(payload)


def _transcript(root: Path) -> Path:
    """A Claude Code transcript: the user's prompt and the assistant turn that wrote the file."""
    path = root / ".claude-demo-transcript.jsonl"
    lines = [
        {
            "type": "user",
            "sessionId": _SESSION,
            "uuid": "u1",
            "timestamp": "2026-11-22T10:00:00Z",
            "message": {
                "role": "user",
                "content": "Write shop/pricing.py: total() with a 10% discount over 100 EUR "
                "and a HALF coupon, and refund().",
            },
        },
        {
            "type": "assistant",
            "sessionId": _SESSION,
            "uuid": "a1",
            "timestamp": "2026-11-22T10:00:04Z",
            "requestId": "req_demo_1",
            "message": {
                "id": "msg_demo_1",
                "role": "assistant",
                "model": _MODEL,
                "usage": {"input_tokens": 2104, "cache_read_input_tokens": 11873, "output_tokens": 312},
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_demo_write_pricing",
                        "name": "Write",
                        "input": {"file_path": str(root / "shop" / "pricing.py"), "content": _SHOP},
                    }
                ],
            },
        },
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def step_capture(root: Path, store: Store) -> dict[str, Any]:
    """Claude Code writes shop/pricing.py through its hooks; a person edits one line and adds a function."""
    console.rule(styled(("2. Capture: who wrote which line, recorded at commit time", "bold")))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Dana Developer")
    _git(root, "config", "user.email", "dana@example.com")
    (root / ".gitignore").write_text(".claude-demo-transcript.jsonl\n", encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Start the shop", days_ago=21)
    _cli(root, "init", "--agents", "claude")
    transcript = _transcript(root)
    console.print("replaying Claude Code's PreToolUse/PostToolUse hooks for a Write of shop/pricing.py", style="dim")
    _cli(root, "hook", "claude", stdin=_claude_payload(root, "PreToolUse", _SHOP, transcript))
    (root / "shop").mkdir(exist_ok=True)
    (root / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (root / "shop" / "pricing.py").write_text(_SHOP, encoding="utf-8")
    _cli(root, "hook", "claude", stdin=_claude_payload(root, "PostToolUse", _SHOP, transcript))
    console.print("a person changes the discount to 15% and adds describe()", style="dim")
    edited = _SHOP.replace(*_HUMAN_EDIT) + _HUMAN_FUNCTION
    (root / "shop" / "pricing.py").write_text(edited, encoding="utf-8")
    _cli(root, "status")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Pricing and refunds", days_ago=20)
    _cli(root, "notes", "show", "HEAD")
    return {"note": _json(_cli(root, "notes", "show", "HEAD", "--json", show=False)) or {}}


def step_attribution(root: Path, store: Store) -> dict[str, Any]:
    """Line and function origin from the notes; the manifest the runtime sensor reads."""
    console.rule(styled(("3. Attribution: line, function and repository shares; the manifest", "bold")))
    _cli(root, "blame", "shop/pricing.py")
    _cli(root, "report", "shop")
    _cli(root, "manifest", "build")
    report = _json(_cli(root, "report", "--json", "shop", show=False)) or {}
    return {"totals": report.get("totals"), "functions": report.get("functions")}


def step_runtime(root: Path, store: Store) -> dict[str, Any]:
    """The shop runs under the sensor with one business rule and refunds sampled for review; facts land in the store."""
    console.rule(styled(("4. Runtime: calls, latency, exceptions with inputs, a broken invariant", "bold")))
    with (root / "codewitness.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            '\n[[invariants]]\nfunction = "shop.pricing:refund"\nensure = "result <= paid"\n'
            'name = "refund_never_exceeds_payment"\n'
            '\n[[review]]\nfunction = "shop.pricing:refund"\nrate = 1.0\n'
        )
    (root / "app.py").write_text(_APP, encoding="utf-8")
    _cli(root, "run", "--service", "shop", "--", sys.executable, "app.py")
    _cli(root, "ingest")
    _cli(root, "runtime")
    _cli(root, "invariants")
    _cli(root, "review", "list")
    return {"functions": _json(_cli(root, "runtime", "--json", show=False)) or []}


def step_check(root: Path, store: Store) -> dict[str, Any]:
    """An agent adds a module with AI-typical flaws; the merge gate says why it must not land."""
    console.rule(styled(("5. Merge gate: hallucinated APIs, AI-typical flaws, provenance", "bold")))
    (root / "shop" / "rates.py").write_text(_FLAWED, encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Fetch exchange rates\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    result = _cli(root, "check", "--offline", "--record", "shop")
    data = _json(_cli(root, "check", "--offline", "--json", "shop", show=False))
    findings = data.get("findings", []) if isinstance(data, dict) else []
    rules = sorted({str(f.get("rule")) for f in findings if isinstance(f, dict)})
    console.print(
        f"the merge gate exits {result.returncode}: {len(findings)} finding(s) ({', '.join(rules) or 'none'})"
    )
    return {"exit_code": result.returncode, "rules": rules}


_TESTS = """\
from shop.pricing import refund, total


def test_total_applies_the_discount():
    assert total([(6000, 2)]) == 10200


def test_refund():
    assert refund(500, paid=1000) == 500
"""
_METRICS_CONFIG = """
[metrics]
# A small demo: one sample is enough to show a value here (the default, 5, would say n/a).
min_samples = 1
# The lexical measure, so the demo shows the same numbers with or without the metrics extra.
adherence = "lexical"

[[metrics.prices]]
model = "claude-sonnet-4-5*"
input = 3.0
output = 15.0
"""


def step_metrics(root: Path, store: Store) -> dict[str, Any]:
    """The eight quality metrics over the window, the changes beside them, cost, and the alert check."""
    import importlib.util

    console.rule(styled(("6. Quality metrics and alerts: how the AI code fares over time", "bold")))
    with (root / "codewitness.toml").open("a", encoding="utf-8") as handle:
        handle.write(_METRICS_CONFIG)
    if importlib.util.find_spec("pytest") is not None:
        (root / "tests").mkdir(exist_ok=True)
        (root / "tests" / "test_pricing.py").write_text(_TESTS, encoding="utf-8")
        console.print("$ pytest --codewitness-tests tests", style="bold cyan")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--codewitness-tests", "tests"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            env=_demo_env(),
        )
        console.print((proc.stdout + proc.stderr).rstrip())
    else:
        console.print("pytest is not installed: no test run is recorded (the test pass rate says n/a)", style="dim")
    _cli(root, "metrics", "--offline", "--cost")
    data = _json(_cli(root, "metrics", "--offline", "--json", show=False)) or {}
    check = _cli(root, "alerts", "check", "--offline")
    console.print(f"`codewitness alerts check` exits {check.returncode}: 1 when an alert fires (for CI or cron)")
    statuses = {m["id"]: m["status"] for m in data.get("metrics", [])}
    return {"statuses": statuses, "alerts_exit_code": check.returncode}


def step_behavior(root: Path, store: Store) -> dict[str, Any]:
    """A reviewer's verdict and a person's case make a corpus; a baseline is pinned and checked."""
    from codewitness.views.behavior import corpus_table
    from codewitness.views.review import review_queue

    console.rule(styled(("7. Behaviour: a corpus of real inputs, a baseline, replay", "bold")))
    # Read in-process: each hidden command would cost a CLI start (the demo's time is mostly those).
    items = review_queue(store).items
    wrong = next((i for i in items if i["arguments"].get("amount") == 1500), None)
    if wrong is not None:
        console.print("a reviewer marks the refund larger than the payment wrong, with the right result", style="dim")
        note = ("--note", "never more than paid", "--expect-json", "1000")
        _cli(root, "review", "mark", wrong["id"][:12], "wrong", *note)
    case = '{"items": [[1999, 2], [500, 1]], "coupon": "HALF"}'
    _cli(root, "corpus", "add", "shop.pricing:total", "--args-json", case)
    _cli(root, "corpus", "list")
    _cli(root, "baseline", "pin", "demo")
    _cli(root, "baseline", "check", "demo", "--threshold", "0%")
    console.print(
        "each input runs twice on each side: one whose runs disagree is non-deterministic, kept apart from changes"
        " (`codewitness replay --same-rev` looks for only those)",
        style="dim",
    )
    console.print(
        "after a change: `codewitness replay --all --against HEAD` shows what behaves differently and who wrote it",
        style="dim",
    )
    return {"corpus": corpus_table(store)}


#: The demo's steps, in order. Later capabilities append theirs.
STEPS: list[Step] = [
    step_ledger,
    step_capture,
    step_attribution,
    step_runtime,
    step_check,
    step_metrics,
    step_behavior,
]
#: Steps that need git (the rest of the story is about repositories).
_NEEDS_GIT = {"step_capture", "step_attribution", "step_runtime", "step_check", "step_metrics", "step_behavior"}


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command."""
    app.command("demo")(demo)


def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Build the demo project here (an empty or new folder); a temp folder by default."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Run every capability on a small AI-written project and show what each one answers."""
    from codewitness.errors import InputError
    from codewitness.store import open_store

    root = directory or Path(tempfile.mkdtemp(prefix="codewitness-demo-"))
    if root.exists() and any(root.iterdir()):
        raise InputError(f"{root} is not empty; give --dir a new or empty folder")
    root.mkdir(parents=True, exist_ok=True)
    (root / "codewitness.toml").write_text("# demo project: the store lives in .codewitness/\n", encoding="utf-8")
    url = f"sqlite:///{root.resolve() / '.codewitness' / 'witness.db'}"
    summary: dict[str, Any] = {"project": str(root.resolve()), "database": url}
    have_git = shutil.which("git") is not None
    with open_store(url) as store:
        for step in STEPS:
            if step.__name__ in _NEEDS_GIT and not have_git:
                console.print(f"skipped {step.__name__.removeprefix('step_')}: git is not installed", style="yellow")
                continue
            summary[step.__name__.removeprefix("step_")] = step(root, store)
    console.rule()
    console.print(f"demo project: {root.resolve()}")
    console.print(f"explore it:   cd {root.resolve()} && codewitness report   (or runtime, invariants, check shop)")
    console.print(f"dashboard:    cd {root.resolve()} && codewitness serve   then open http://127.0.0.1:8787/")
    if as_json:
        emit_json(summary)
