"""Benchmark: ``codewitness report`` against raw ``git blame --porcelain`` on a synthetic repository.

Builds (with ``git fast-import``, in seconds) a repository of Python files with at least 50,000
lines and 2,000 commits: a third by people, a third with agent trailers, a third with codewitness
notes (some lines inside them marked human), and some with git-ai notes. Then it measures, in
one run:

* ``raw blame``: ``git blame --porcelain`` over every file at HEAD, one file after another;
* ``raw blame -M``: the same with move detection, which the engine uses;
* ``cold``: the report (attribution, report, its JSON) with an empty cache database;
* ``incremental``: the same after one more commit, with the cache of the cold run;

both in this process (the engine's cost) and as the ``codewitness report --json`` command in a new
process (what a user waits for, interpreter start included), and prints ``cold / raw blame`` and
``incremental / cold``. Goals: cold <= 1.3x, incremental <= 10%. The engine runs ``git blame`` in
parallel, one process per CPU; the raw baseline runs it file after file, as a script would.

Run::

    python benchmarks/attribution/bench.py            # default size
    python benchmarks/attribution/bench.py --files 60 --commits 300   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAILERS = (
    "Co-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
    "Co-authored-by: Codex <noreply@openai.com>",
    "Co-authored-by: Cursor <cursoragent@cursor.com>",
)


def _function(rng: random.Random, name: str) -> list[str]:
    body = [f"def {name}(x, y):"]
    for i in range(rng.randint(4, 9)):
        body.append(f"    v{i} = x * {rng.randint(1, 99)} + y - {i}  # {rng.random():.6f}")
    body.append("    return x")
    body.append("")
    return body


def build_repo(root: Path, files: int, commits: int, base_lines: int, seed: int = 7) -> dict[str, int]:
    """Create the synthetic repository at ``root``; returns its size."""
    rng = random.Random(seed)
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    contents: dict[str, list[str]] = {}
    for f in range(files):
        lines: list[str] = [f'"""Module {f}."""', ""]
        n = 0
        while len(lines) < base_lines:
            lines += _function(rng, f"base_{f}_{n}")
            n += 1
        contents[f"pkg{f % 8}/mod{f}.py"] = lines
    stream: list[bytes] = []
    when = 1_600_000_000

    def data(text: str) -> bytes:
        raw = text.encode("utf-8")
        return b"data %d\n%s\n" % (len(raw), raw)

    def commit(mark: int, message: str, author: str, changed: list[str], parent: int | None) -> None:
        nonlocal when
        when += 600
        stream.append(f"commit refs/heads/main\nmark :{mark}\n".encode())
        stream.append(f"author {author} {when} +0000\ncommitter {author} {when} +0000\n".encode())
        stream.append(data(message))
        if parent:
            stream.append(f"from :{parent}\n".encode())
        for path in changed:
            stream.append(f"M 100644 inline {path}\n".encode())
            stream.append(data("\n".join(contents[path]) + "\n"))

    human = "Dana Dev <dana@example.com>"
    for pkg in sorted({p.split("/")[0] for p in contents}):
        contents[f"{pkg}/__init__.py"] = [f'"""{pkg}."""']
    commit(1, "initial import", human, sorted(contents), None)
    cw_notes: dict[int, str] = {}
    gitai_notes: dict[int, str] = {}
    paths = sorted(p for p in contents if not p.endswith("__init__.py"))
    for c in range(2, commits + 1):
        path = rng.choice(paths)
        lines = contents[path]
        name = f"f{c}"
        new = _function(rng, name)
        at = rng.randrange(2, len(lines))
        # Insert at a line boundary between functions so the file stays valid Python.
        while at < len(lines) and lines[at - 1] != "":
            at += 1
        lines[at:at] = new
        if rng.random() < 0.3 and len(lines) > 40:
            edit = rng.randrange(3, len(lines) - 1)
            if lines[edit].startswith("    v"):
                lines[edit] = lines[edit] + " + 0"
        kind = c % 3
        first, last = at + 1, at + len(new)
        message = f"change {c}"
        if kind == 1:
            message += "\n\n" + rng.choice(TRAILERS)
        elif kind == 2:
            if c % 10 == 2:
                gitai_notes[c] = (
                    f"{path}\n  s_0123456789abcd::t_0123456789abcd {first}-{last - 2}\n---\n"
                    '{"schema_version": "authorship/3.0.0", "sessions": {"s_0123456789abcd": '
                    '{"agent_id": {"tool": "cursor", "id": "x", "model": "gpt-5"}}}}'
                )
            else:
                entries = [
                    {
                        "lines": f"{first}-{last - 3}",
                        "origin": "ai",
                        "generations": [f"gen_{c:020d}"],
                        "agent": "claude-code",
                        "model": "claude-opus-4-5",
                    },
                    {"lines": f"{last - 2}", "origin": "human"},
                ]
                cw_notes[c] = json.dumps({"schema": "codewitness.note/1", "files": {path: entries}})
        commit(c, message, human, [path], c - 1)
    for ref, notes in (("refs/notes/codewitness", cw_notes), ("refs/notes/ai", gitai_notes)):
        stream.append(f"commit {ref}\ncommitter {human} {when} +0000\n".encode())
        stream.append(data("notes"))
        for mark, text in notes.items():
            stream.append(f"N inline :{mark}\n".encode())
            stream.append(data(text))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)
    total = sum(len(v) for v in contents.values())
    return {
        "files": len(contents),
        "lines": total,
        "commits": commits,
        "notes": len(cw_notes),
        "gitai_notes": len(gitai_notes),
    }


def raw_blame(root: Path, move: bool) -> float:
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    args = ["git", "blame", "--porcelain"] + (["-M"] if move else [])
    start = time.perf_counter()
    for path in files:
        subprocess.run([*args, "HEAD", "--", path], cwd=root, capture_output=True, check=True)
    return time.perf_counter() - start


def run_report(root: Path, db: str) -> tuple[float, dict[str, object]]:
    """``codewitness report --json`` as a user runs it (a new process, interpreter start included)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "report", "--json", "--db", db],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"codewitness report failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def run_in_process(root: Path, db: str) -> float:
    """The same work inside this process: attribution, report and its JSON, no interpreter start."""
    from codewitness.attribution.report import build_report
    from codewitness.attribution.storecache import store_cache
    from codewitness.store import open_store

    start = time.perf_counter()
    with open_store(db) as store:
        json.dumps(build_report(root, cache=store_cache(store)).to_dict())
    return time.perf_counter() - start


def one_more_commit(root: Path) -> None:
    """An agent adds a function to one file and commits."""
    target = root / "pkg0" / "mod0.py"
    target.write_text(target.read_text() + f"\n\ndef extra_{time.time_ns()}(x):\n    return x + 1\n")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Dana Dev",
        "GIT_AUTHOR_EMAIL": "dana@example.com",
        "GIT_COMMITTER_NAME": "Dana Dev",
        "GIT_COMMITTER_EMAIL": "dana@example.com",
    }
    subprocess.run(["git", "commit", "-qam", "one more\n\n" + TRAILERS[0]], cwd=root, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--base-lines", type=int, default=180, help="lines per file before the history")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic repository")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    root = work / "repo"
    try:
        t0 = time.perf_counter()
        size = build_repo(root, opts.files, opts.commits, opts.base_lines)
        print(f"built {size} in {time.perf_counter() - t0:.1f}s at {root}", file=sys.stderr)
        blame = raw_blame(root, move=False)
        blame_m = raw_blame(root, move=True)
        # In process (the engine's own cost), then as a command (what a user waits for).
        db1 = f"sqlite:///{work / 'cache-a.db'}"
        cold = run_in_process(root, db1)
        one_more_commit(root)
        incremental = run_in_process(root, db1)
        db2 = f"sqlite:///{work / 'cache-b.db'}"
        cli_cold, _ = run_report(root, db2)
        one_more_commit(root)
        cli_incremental, report = run_report(root, db2)
        print(json.dumps({"repo": size, "cpus": os.cpu_count(), "report_totals": report["totals"]}))
        print(f"raw git blame --porcelain, file after file:   {blame:7.2f} s")
        print(f"raw git blame --porcelain -M, file after file: {blame_m:7.2f} s")
        print(f"report, cold (empty cache), in process:       {cold:7.2f} s")
        print(f"report, after one more commit, in process:    {incremental:7.2f} s")
        print(f"codewitness report --json, cold:              {cli_cold:7.2f} s")
        print(f"codewitness report --json, after one commit:  {cli_incremental:7.2f} s")
        print(f"cold / raw blame:            {cold / blame:5.2f}x  (goal <= 1.3x)   command: {cli_cold / blame:5.2f}x")
        print(
            f"incremental / cold:          {incremental / cold * 100:5.1f}%  (goal <= 10%)  "
            f"command: {cli_incremental / cli_cold * 100:5.1f}%"
        )
    finally:
        if opts.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
