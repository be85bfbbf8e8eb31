"""Latency of the agent hook, as Claude Code runs it: one process per PreToolUse / PostToolUse.

A typical edit: a 400-line Python file in a git repository, a 1 MB session transcript, one Edit
that rewrites two lines. Each sample runs ``python -m codewitness.capture.hook claude`` with
the payload on stdin, exactly as the installed hook command does, and waits for it to exit.
The baseline is a bare ``python -c pass`` started the same way in the same run. Bytecode
caching is on, as in any normal install (``PYTHONDONTWRITEBYTECODE`` is dropped for the runs):
without it every hook run recompiles our modules from source.

The same edits are also made in a twin repository whose store holds runtime facts
(``--context-rows`` interval rows over the last week for 1,000 functions, the edited file's among
them, and exceptions for one function in ten of it): there PreToolUse also answers the agent with
the live problems of the file (``additionalContext``). The difference between the two PreToolUse
series is what the context adds. The goal is p95 <= 50 ms added.

Run:
    python benchmarks/hook_latency.py            # 60 edits (180 hook runs)
    python benchmarks/hook_latency.py --edits 200 --context-rows 1000000

Prints p50/p95 in milliseconds for PreToolUse, PreToolUse with context, PostToolUse and the
baseline, the ratio of each to the baseline, and what the context adds. The goal is p95 <= 40 ms for
a hook run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _store_rows import INSERT_AGGREGATE, INSERT_EXCEPTION, percentile  # a sibling: benchmarks/ is on sys.path when run

_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(args: list[str], data: bytes, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, input=data, cwd=cwd, capture_output=True, check=False, env=_ENV)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stderr.decode()}")
    return elapsed


def _fill_store(root: Path, rows: int) -> None:
    """Runtime facts for 1,000 functions (``src/mod.py``'s ``f0``..``f99`` among them) over the last week."""
    import sqlite3
    import uuid
    from datetime import UTC, datetime, timedelta

    from codewitness.sensor.aggregate import Histogram
    from codewitness.store import open_store

    path = root / ".codewitness" / "witness.db"
    open_store(f"sqlite:///{path}").close()
    histogram = Histogram()
    for ns in (20_000, 40_000, 400_000):
        histogram.record(ns)
    hist = json.dumps(histogram.to_json())
    now = datetime.now(UTC)
    names = [(f"src.mod.f{i}", "src/mod.py", 4 * i + 1) for i in range(100)]
    names += [(f"other.m{i // 20}.g{i}", f"other/m{i // 20}.py", 1) for i in range(900)]
    per = max(1, rows // len(names))

    def stamp(t: datetime) -> str:
        return t.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    conn = sqlite3.connect(path)
    batch = []
    for k in range(per):
        t0 = now - timedelta(days=7) + timedelta(days=7) * k / per
        for name, file, line in names:
            batch.append((uuid.uuid4().hex, "svc", "r1", "h", 1, name, "ai", 1.0, '["gen_1"]', '["m"]', file, line,
                          stamp(t0), stamp(t0 + timedelta(seconds=10)), 5, 0, "{}", hist, 500_000, 400_000, stamp(now)))
    conn.executemany(INSERT_AGGREGATE, batch)
    events = []
    for name, file, line in names[:100:10]:
        stack = json.dumps([{"file": f"/srv/{file}", "line": line + 1, "function": name.rsplit(".", 1)[1]}])
        for n in range(20):
            events.append((uuid.uuid4().hex, "svc", "r1", "h", 1, name, "ai", 1.0, '["gen_1"]', '["m"]', file, line,
                           stamp(now - timedelta(hours=n)), "ValueError", "bad input", stack, json.dumps({"x": n}),
                           stamp(now)))
    conn.executemany(INSERT_EXCEPTION, events)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def _timed_answer(args: list[str], data: bytes, cwd: Path) -> tuple[float, bool]:
    """Like :func:`_timed`, and whether the hook answered with context."""
    start = time.perf_counter()
    proc = subprocess.run(args, input=data, cwd=cwd, capture_output=True, check=False, env=_ENV)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stderr.decode()}")
    return elapsed, b"additionalContext" in proc.stdout


def _setup(base: Path, functions: int) -> tuple[Path, Path]:
    root = base / "repo"
    (root / "src").mkdir(parents=True)
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(functions))
    (root / "src" / "mod.py").write_text(body, "utf-8")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@e", "commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    transcript = base / "session.jsonl"
    filler = json.dumps({"type": "user", "message": {"role": "user", "content": "x" * 2000}})
    transcript.write_text((filler + "\n") * 500, "utf-8")
    return root, transcript


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=60, help="edits to time (two hook runs each)")
    parser.add_argument("--context-rows", type=int, default=100_000, help="runtime rows in the twin's store")
    args = parser.parse_args()
    hook = [sys.executable, "-m", "codewitness.capture.hook", "claude"]
    bare = [sys.executable, "-c", "pass"]
    pre_ms: list[float] = []
    context_ms: list[float] = []
    post_ms: list[float] = []
    base_ms: list[float] = []
    answered = 0
    with tempfile.TemporaryDirectory() as tmp:
        root, transcript = _setup(Path(tmp), max(100, args.edits + 3))
        twin, _ = _setup(Path(tmp) / "twin", max(100, args.edits + 3))
        _fill_store(twin, args.context_rows)
        path = root / "src" / "mod.py"
        for i in range(args.edits + 3):
            tool_id = f"toolu_bench_{i}"
            common = {
                "session_id": "bench",
                "transcript_path": str(transcript),
                "cwd": str(root),
                "hook_event_name": "PreToolUse",
                "tool_name": "Edit",
                "tool_use_id": tool_id,
                "tool_input": {"file_path": str(path), "old_string": "x", "new_string": "y"},
            }
            with transcript.open("a", encoding="utf-8") as handle:
                entry = {
                    "type": "assistant",
                    "message": {
                        "role": "assistant",
                        "model": "claude-opus-4-5",
                        "content": [{"type": "tool_use", "id": tool_id, "name": "Edit", "input": {}}],
                    },
                }
                handle.write(json.dumps(entry) + "\n")
            pre = _timed(hook, json.dumps(common).encode(), root)
            twin_file = {"file_path": str(twin / "src" / "mod.py"), "old_string": "x", "new_string": "y"}
            in_twin = {**common, "cwd": str(twin), "tool_input": twin_file}
            with_context, said = _timed_answer(hook, json.dumps(in_twin).encode(), twin)
            answered += said
            text = path.read_text("utf-8")
            n = i
            path.write_text(text.replace(f"    return x + {n}\n", f"    y = x + {n}\n    return y\n", 1), "utf-8")
            post = _timed(
                hook, json.dumps({**common, "hook_event_name": "PostToolUse", "tool_response": {}}).encode(), root
            )
            baseline = _timed(bare, b"", root)
            if i >= 3:  # the first runs warm the file cache
                pre_ms.append(pre)
                context_ms.append(with_context)
                post_ms.append(post)
                base_ms.append(baseline)
        log = root / ".codewitness" / "log"
        if log.exists():
            print(f"note: hook log has entries:\n{log.read_text()[:500]}", file=sys.stderr)
    base50, base95 = statistics.median(base_ms), percentile(base_ms, 0.95)
    print(f"hook latency over {args.edits} edits (Python {sys.version.split()[0]})")
    print(f"{'':14}{'p50 ms':>9}{'p95 ms':>9}{'p50/base':>10}{'p95/base':>10}")
    series = (
        ("PreToolUse", pre_ms),
        ("+ context", context_ms),
        ("PostToolUse", post_ms),
        ("python -c pass", base_ms),
    )
    for name, values in series:
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{name:14}{p50:9.1f}{p95:9.1f}{p50 / base50:10.2f}{p95 / base95:10.2f}")
    added50 = statistics.median(context_ms) - statistics.median(pre_ms)
    added95 = percentile(context_ms, 0.95) - percentile(pre_ms, 0.95)
    verdict = "met" if added95 <= 50 else "NOT met"
    print(f"context added ({args.context_rows:,} runtime rows; {answered} of {args.edits + 3} runs answered): "
          f"p50 {added50:+.1f} ms, p95 {added95:+.1f} ms; goal p95 <= 50 ms added: {verdict}")
    worst = max(percentile(pre_ms, 0.95), percentile(post_ms, 0.95))
    print(f"goal p95 <= 40 ms: {'met' if worst <= 40 else 'NOT met'} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
