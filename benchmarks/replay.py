"""Replay throughput, and what stratified sampling costs per sampled call against the reservoir it replaced.

**Replay.** A real git repository in a temp folder holds two revisions of a pricing function; its
corpus has 1,000 distinct inputs (Decimal amounts, quantities, a currency enum, some in yen). The
benchmark times, with the project's interpreter in separate processes as ``codewitness replay``
runs it:

* ``one side``: all inputs through the function at the working tree, once (one process);
* ``replay``: the whole ``replay --against v1`` (both sides, ``behavior.repeat = 2`` runs each:
  four processes, a temporary worktree made and removed), with the comparison and the report.

and prints inputs per second per side (inputs x runs / seconds).

**Sampling.** The sampling step of one call -- what the sensor does for a call offered for a sample
(``sample_rate = 1``) -- now: the input shape, then, for calls kept, the redacted snapshot, the
exact encoding and the sample record (:class:`codewitness.sensor._sampling.Strata`); before: the
redacted snapshot of every offered call and a 5-slot reservoir (algorithm R; the code the sensor
ran until this change, reproduced below). Both run on the same calls (90% euro inputs, 10% yen,
distinct amounts), intervals of ``--interval-calls`` calls, in one process, alternating; the ratio
is new / old. A third figure is the whole sampled call through the running sensor (rewriting or
``sys.monitoring``), against the same function counted only.

Run::

    nice -n 10 .venv-test/3.12/bin/python benchmarks/replay.py
"""

from __future__ import annotations

import argparse
import decimal
import enum
import importlib
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from codewitness.behavior.replay import Case, limits_of, replay, run_side
from codewitness.behavior.sides import working_tree
from codewitness.config import BehaviorSection, SensorSection
from codewitness.sensor._sampling import Strata, redaction_of
from codewitness.sensor.exact import encode_arguments
from codewitness.sensor.snapshot import Redactor
from codewitness.store import open_store
from codewitness.store.corpus import add_entry, corpus_entries

PRICING = """from decimal import ROUND_HALF_UP, Decimal
from enum import Enum


class Currency(Enum):
    EUR = "EUR"
    JPY = "JPY"


def price(amount: Decimal, qty: int, currency: Currency) -> Decimal:
    places = Decimal("{yen}") if currency is Currency.JPY else Decimal("0.01")
    return (amount * qty).quantize(places, rounding=ROUND_HALF_UP)
"""


class Currency(enum.Enum):
    """Stands for pricing.Currency when inputs are encoded (the encoding names the type)."""

    EUR = "EUR"
    JPY = "JPY"


Currency.__module__ = "pricing"


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def _inputs(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        currency = Currency.JPY if i % 10 == 3 else Currency.EUR
        out.append(
            {
                "amount": decimal.Decimal(rng.randint(100, 9_999_999)) / 100,
                "qty": rng.randint(1, 9),
                "currency": currency,
            }
        )
    return out


def bench_replay(inputs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="cw-bench-replay-"))
    root = folder / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Bench")
    _git(root, "config", "user.email", "bench@example.com")
    (root / "pricing.py").write_text(PRICING.format(yen="0.01"))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "v1")
    _git(root, "tag", "v1")
    (root / "pricing.py").write_text(PRICING.format(yen="1"))
    _git(root, "commit", "-qam", "v2")
    store = open_store(f"sqlite:///{folder / 'witness.db'}")
    with store.write() as conn:
        for arguments in _inputs(inputs):
            add_entry(conn, function="pricing.price", source="user", input=encode_arguments(arguments), arguments={})
    cases = [Case.of(e) for e in corpus_entries(store, functions=["pricing.price"])]
    assert len(cases) == inputs, len(cases)
    settings = BehaviorSection(repeat=2, max_inputs=inputs, budget=3600)

    start = time.perf_counter()
    outcomes = run_side(working_tree(root), cases, limits_of(settings), 1)
    one = time.perf_counter() - start
    assert all("ok" in runs[0] for runs in outcomes.values())

    start = time.perf_counter()
    report = replay(store, root, ["pricing.price"], settings=settings, against="v1", record=False)
    whole = time.perf_counter() - start
    (f,) = report.functions
    assert f.replayed == inputs and f.differing > 0, (f.replayed, f.differing, dict(f.errors))
    print(f"replay of {inputs:,} inputs ({f.differing} differ: the yen ones)")
    print(f"  one side, one run:       {one:6.2f} s   {inputs / one:8,.0f} inputs/s")
    runs = 2 * settings.repeat
    print(
        f"  replay --against v1:     {whole:6.2f} s   {inputs * runs / whole:8,.0f} inputs/s per side and run"
        f"   ({runs} runs: 2 sides x repeat {settings.repeat}; worktree, compare, report included)"
    )
    store.close()


# -- sampling ------------------------------------------------------------------------------------


class OldReservoir:
    """The sampling step the sensor ran before stratified sampling (``_probe.py`` until this change):
    every offered call's arguments snapshot before the call, then algorithm R over 5 slots."""

    def __init__(self, keep: int) -> None:
        self.offered = itertools.count()
        self.slots: list[dict[str, Any] | None] = [None] * keep

    def call(self, redactor: Redactor, arguments: dict[str, Any], result: Any) -> None:
        sampled = redactor.snapshot_arguments(arguments)  # taken before the call, for every offered call
        keep = len(self.slots)
        offered = next(self.offered)
        slot = offered if offered < keep else random.randrange(offered + 1)
        if slot >= keep:
            return
        self.slots[slot] = {
            "kind": "sample",
            "time": "t",
            "duration_ns": 1,
            "arguments": dict(sampled),
            "result": redactor.snapshot(result),
        }


def _new_interval(redactor: Redactor, calls: list[dict[str, Any]], results: list[Any]) -> int:
    redaction = redaction_of(redactor)
    strata = Strata(16, 16_384)
    for arguments, result in zip(calls, results, strict=True):
        token = strata.take(arguments, redactor, redaction)
        if token is not None:
            strata.keep(1, token, result, redactor, redaction)
    return len(strata.drain())


def _old_interval(redactor: Redactor, calls: list[dict[str, Any]], results: list[Any]) -> int:
    reservoir = OldReservoir(5)
    for arguments, result in zip(calls, results, strict=True):
        reservoir.call(redactor, arguments, result)
    return sum(1 for s in reservoir.slots if s is not None)


def bench_sampling(interval_calls: int, intervals: int, repeats: int) -> None:
    redactor = Redactor()
    batches = [_inputs(interval_calls, seed=s) for s in range(intervals)]
    results = [[a["amount"] * a["qty"] for a in batch] for batch in batches]
    total = interval_calls * intervals
    best = {"old": float("inf"), "new": float("inf")}
    kept = {"old": 0, "new": 0}
    for _ in range(repeats):
        for name, step in (("old", _old_interval), ("new", _new_interval)):
            start = time.perf_counter_ns()
            kept[name] = sum(step(redactor, batch, res) for batch, res in zip(batches, results, strict=True))
            best[name] = min(best[name], (time.perf_counter_ns() - start) / total)
    print(
        f"sampling step per offered call ({interval_calls:,} calls per interval, {intervals} intervals, best of "
        f"{repeats}):"
    )
    print(
        f"  reservoir of 5 (before):            {best['old']:8.0f} ns   kept {kept['old'] / intervals:.1f} per interval"
    )
    print(
        f"  shapes + exact encodings (now):     {best['new']:8.0f} ns   kept {kept['new'] / intervals:.1f} per interval"
    )
    print(f"  ratio now / before:                 {best['new'] / best['old']:8.2f}")


def bench_sensor(calls: int, repeats: int) -> None:
    import codewitness.sensor

    folder = Path(tempfile.mkdtemp(prefix="cw-bench-sample-"))
    sys.path.insert(0, str(folder))
    (folder / "pricing.py").write_text(PRICING.format(yen="1"))
    inputs = _inputs(calls)
    figures = {}
    for case, rate in (("counted only", 0.0), ("sampled (rate 1)", 1.0)):
        sys.modules.pop("pricing", None)
        sensor = codewitness.sensor.init(
            service="bench",
            manifest=folder / "none.json",
            include=["pricing.price"],
            spool_dir="",
            interval=0.2,
            settings=SensorSection(),
            sample_rate=rate,
            exporters=[_Discard()],
        )
        assert sensor is not None
        module = importlib.import_module("pricing")
        args = [(a["amount"], a["qty"], module.Currency[a["currency"].name]) for a in inputs]
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter_ns()
            for amount, qty, currency in args:
                module.price(amount, qty, currency)
            best = min(best, (time.perf_counter_ns() - start) / calls)
        figures[case] = best
        codewitness.sensor.shutdown()
    print(
        f"a watched call through the sensor ({calls:,} calls, best of {repeats}, exporter thread draining every 0.2 s):"
    )
    for case, ns in figures.items():
        print(f"  {case:<34} {ns:8.0f} ns")
    print(
        f"  sampling adds                      {figures['sampled (rate 1)'] - figures['counted only']:8.0f} ns per call"
    )


class _Discard:
    def export(self, records: list[dict[str, Any]]) -> None:
        pass

    def close(self) -> None:
        pass

    def after_fork(self) -> None:
        pass

    def health(self) -> dict[str, int]:
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--interval-calls", type=int, default=1000)
    parser.add_argument("--intervals", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)")
    bench_replay(args.inputs)
    bench_sampling(args.interval_calls, args.intervals, args.repeats)
    bench_sampling(100, args.intervals * 10, args.repeats)
    bench_sensor(20_000, args.repeats)


if __name__ == "__main__":
    main()
