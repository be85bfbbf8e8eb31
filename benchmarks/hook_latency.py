"""Latency of the agent hook, as Claude Code runs it: one process per PreToolUse / PostToolUse.

A typical edit: a 400-line Python file in a git repository, a 1 MB session transcript, one Edit
that rewrites two lines. Each sample runs ``python -m codewitness.capture.hook claude`` with
the payload on stdin, exactly as the installed hook command does, and waits for it to exit.
The baseline is a bare ``python -c pass`` started the same way in the same run. Bytecode
caching is on, as in any normal install (``PYTHONDONTWRITEBYTECODE`` is dropped for the runs):
without it every hook run recompiles our modules from source.

Run:
    python benchmarks/hook_latency.py            # 60 edits (120 hook runs)
    python benchmarks/hook_latency.py --edits 200

Prints p50/p95 in milliseconds for PreToolUse, PostToolUse and the baseline, and the ratio of
each to the baseline. The goal is p95 <= 40 ms for a hook run.
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(args: list[str], data: bytes, cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, input=data, cwd=cwd, capture_output=True, check=False, env=_ENV)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stderr.decode()}")
    return elapsed


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
    args = parser.parse_args()
    hook = [sys.executable, "-m", "codewitness.capture.hook", "claude"]
    bare = [sys.executable, "-c", "pass"]
    pre_ms: list[float] = []
    post_ms: list[float] = []
    base_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root, transcript = _setup(Path(tmp), max(100, args.edits + 3))
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
            text = path.read_text("utf-8")
            n = i
            path.write_text(text.replace(f"    return x + {n}\n", f"    y = x + {n}\n    return y\n", 1), "utf-8")
            post = _timed(
                hook, json.dumps({**common, "hook_event_name": "PostToolUse", "tool_response": {}}).encode(), root
            )
            baseline = _timed(bare, b"", root)
            if i >= 3:  # the first runs warm the file cache
                pre_ms.append(pre)
                post_ms.append(post)
                base_ms.append(baseline)
        log = root / ".codewitness" / "log"
        if log.exists():
            print(f"note: hook log has entries:\n{log.read_text()[:500]}", file=sys.stderr)
    base50, base95 = statistics.median(base_ms), _percentile(base_ms, 0.95)
    print(f"hook latency over {args.edits} edits (Python {sys.version.split()[0]})")
    print(f"{'':14}{'p50 ms':>9}{'p95 ms':>9}{'p50/base':>10}{'p95/base':>10}")
    for name, values in (("PreToolUse", pre_ms), ("PostToolUse", post_ms), ("python -c pass", base_ms)):
        p50, p95 = statistics.median(values), _percentile(values, 0.95)
        print(f"{name:14}{p50:9.1f}{p95:9.1f}{p50 / base50:10.2f}{p95 / base95:10.2f}")
    worst = max(_percentile(pre_ms, 0.95), _percentile(post_ms, 0.95))
    print(f"goal p95 <= 40 ms: {'met' if worst <= 40 else 'NOT met'} (worst p95 {worst:.1f} ms)")


if __name__ == "__main__":
    main()
