"""Records per second that ``ingest`` loads from a spool folder into a SQLite store.

A spool of ten segments as the sensor writes them: three in four records are interval
aggregates, one in four an exception capture with a stack of eight frames and a ten-item cart
as its arguments. Every record goes through the per-field checks of
:mod:`codewitness.ingest` and one transaction per segment, as ``codewitness ingest`` does.

Run:
    python benchmarks/ingest_speed.py              # 40,000 records, best of 3
    python benchmarks/ingest_speed.py --records 100000 --runs 5

Prints records per second of wall time and per CPU second (SQLite works in this process: on a
shared machine its CPU time varies less than the wall time) for each run, and the best.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from codewitness.facts import Histogram
from codewitness.ingest import ingest_spool
from codewitness.store import open_store


def _aggregate(i: int) -> dict[str, Any]:
    histogram = Histogram()
    for ns in (1_000, 2_000, 50_000, 1_000_000):
        histogram.record(ns)
    return {
        "kind": "aggregate",
        "id": uuid.uuid4().hex,
        "service": "shop",
        "revision": "r1",
        "host": "h1",
        "pid": 42,
        "function": f"shop.f{i % 200}",
        "origin": "ai",
        "ai_share": 1.0,
        "generation_ids": ["gen_1"],
        "models": ["claude-sonnet-4-5"],
        "path": "shop/pricing.py",
        "line": 10,
        "start": "2026-11-01T12:00:00+00:00",
        "end": "2026-11-01T12:00:10+00:00",
        "calls": 4,
        "errors": {"ValueError": 1},
        "histogram": histogram.to_json(),
        "total_ns": 1_053_000,
        "max_ns": 1_000_000,
    }


def _exception(i: int) -> dict[str, Any]:
    return {
        **_aggregate(i),
        "kind": "exception",
        "time": "2026-11-01T12:00:03+00:00",
        "type": "shop.pricing.PricingError",
        "message": "unknown sku in cart " * 10,
        "stack": [{"file": "shop/pricing.py", "line": 14 + n, "function": "quote"} for n in range(8)],
        "arguments": {
            "cart": [{"sku": f"sku-{j}", "quantity": j, "price": 1.5} for j in range(10)],
            "user": {"id": 7, "name": "Dana"},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates: list[float] = []
    cpu_rates: list[float] = []  # on a shared machine, CPU time varies less than wall time
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            spool = Path(folder) / "spool"
            spool.mkdir()
            per_segment = args.records // 10
            for segment in range(10):
                records = [_aggregate(i) if i % 4 else _exception(i) for i in range(per_segment)]
                lines = "".join(json.dumps(r) + "\n" for r in records)
                (spool / f"seg-{segment:020d}-1.jsonl").write_text(lines, "utf-8")
            store = open_store(f"sqlite:///{folder}/witness.db")
            try:
                began, cpu = time.perf_counter(), time.process_time()
                total, _segments = ingest_spool(store, spool)
                elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
            finally:
                store.close()
            assert total.inserted == per_segment * 10 and total.bad == 0
            rates.append(total.inserted / elapsed)
            cpu_rates.append(total.inserted / cpu)
            print(
                f"run {run + 1}: {total.inserted:,} records in {elapsed:.2f} s = {rates[-1]:,.0f} records/s "
                f"({cpu:.2f} CPU s = {cpu_rates[-1]:,.0f} records per CPU second)"
            )
    print(f"best: {max(rates):,.0f} records/s, {max(cpu_rates):,.0f} records per CPU second")


if __name__ == "__main__":
    main()
