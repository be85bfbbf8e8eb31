"""The store's size and ``runtime``'s answer time after a million requests on the example shop, with retention.

The real sensor watches every function of the shop (``shop.*``) in this process while the real
request handler serves a mix of quotes and checkouts on loopback sockets (a third of them
raise); one interval's worth of requests (``--rate`` per second x 10 s, the default interval) is
served and flushed at a time. Real time cannot pass here, so each batch's records are stamped as
the interval they stand for: intervals follow each other 10 s apart, from ``--requests`` /
``--rate`` seconds ago up to now. They are ingested as ``codewitness ingest`` does, with the
default retention applied once per simulated hour (``on_ingest``); at the end the benchmark
reports the SQLite file's size (after a checkpoint, and after ``vacuum``), the rows by table and by
rollup, and how long ``codewitness runtime``'s view takes over everything.

    python benchmarks/store_retention.py                      # 1,000,000 requests at 10 per second
    python benchmarks/store_retention.py --rate 2 --requests 200000
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples" / "shop")]

INTERVAL = 10.0


def _restamp(records: list[dict], start: datetime) -> list[dict]:
    """The records of one flush as if their interval had begun at ``start``."""
    end = start + timedelta(seconds=INTERVAL)
    for record in records:
        record["id"] = uuid.uuid4().hex
        if "start" in record:
            record["start"], record["end"] = start.isoformat(), end.isoformat()
        if "time" in record:
            record["time"] = (start + timedelta(seconds=INTERVAL / 2)).isoformat()
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second the shop serves")
    args = parser.parse_args()

    from sensor_service import _Connection  # type: ignore[import-not-found]

    import codewitness.sensor
    from codewitness.config import RetentionSection
    from codewitness.ingest import ingest_batch
    from codewitness.store import open_store
    from codewitness.store.retention import prune, retention_of, stats, vacuum
    from codewitness.views.runtime import runtime_view

    class Keep:
        """An exporter that hands each batch over (the spool's role, without the file)."""

        def __init__(self) -> None:
            self.records: list[dict] = []

        def export(self, records: list[dict]) -> None:
            self.records.extend(records)

        def close(self) -> None: ...

        def after_fork(self) -> None: ...

        def health(self) -> dict[str, int]:
            return {}

    keep = Keep()
    sensor = codewitness.sensor.init(
        service="shop", include=["shop.*"], spool_dir="", endpoint="", otel=False, interval=3600, exporters=[keep]
    )
    assert sensor is not None
    connection = _Connection(importlib.import_module("shop.server").Handler)
    connection.serve(300)
    sensor.flush()
    keep.records.clear()

    per_interval = max(1, round(args.rate * INTERVAL))
    intervals = -(-args.requests // per_interval)
    now = datetime.now(UTC)
    first = now - timedelta(seconds=intervals * INTERVAL)
    retention = retention_of(RetentionSection())
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "witness.db"
        store = open_store(f"sqlite:///{db}")
        started = time.perf_counter()
        pending: list[dict] = []
        records = 0
        for i in range(intervals):
            connection.serve(per_interval)
            # The next interval goes on with the next requests of the mix (serve() starts from the first).
            shift = per_interval % len(connection.requests)
            connection.requests = connection.requests[shift:] + connection.requests[:shift]
            sensor.flush()
            pending.extend(_restamp(keep.records, first + timedelta(seconds=i * INTERVAL)))
            records += len(keep.records)
            keep.records = []
            if len(pending) >= 5000 or i == intervals - 1:
                ingest_batch(store, pending, source="benchmark")
                pending = []
            if i % 360 == 359 or i == intervals - 1:  # once per simulated hour, and at the end
                prune(store, retention, now=first + timedelta(seconds=(i + 1) * INTERVAL))
            if i % 3600 == 0:
                print(f"  {i:,} of {intervals:,} intervals, {time.perf_counter() - started:.0f} s", flush=True)
        codewitness.sensor.shutdown()
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = db.stat().st_size
        found = stats(store)
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            view = runtime_view(store)
            timings.append(time.perf_counter() - t0)
        _, after = vacuum(store)
        store.close()
    span = timedelta(seconds=intervals * INTERVAL)
    print(
        f"Python {sys.version.split()[0]}: {intervals * per_interval:,} requests at {args.rate:g}/s over {span}"
        f" ({intervals:,} intervals of 10 s), {records:,} records"
    )
    print(f"  store: {size / 1e6:.1f} MB (after vacuum {after / 1e6:.1f} MB)")
    for table in found.tables:
        if table.rows:
            print(f"  {table.name}: {table.rows:,} rows, {(table.bytes or 0) / 1e6:.1f} MB")
    print(f"  intervals by rollup (seconds -> rows): {found.aggregates_by_rollup}")
    print(f"  runtime view of {len(view.functions)} functions: best of 3 {min(timings):.3f} s")


if __name__ == "__main__":
    main()
