"""What one captured exception costs the calling thread, by the shape of what it carries.

A watched function raises; the sensor captures every exception (``exceptions_per_interval`` and
``exception_bytes_per_interval`` set out of reach, so no capture is skipped), redacting its message
and the call's arguments on the application's thread. Each shape is timed unwatched and watched in
the same run, and the row shows the time the capture added and the ratio of the two:

* ``short``: ``ValueError("sku 42 is out of stock")`` with three small arguments;
* ``secrets``: a message and arguments full of credentials (a URL with a password, a bearer
  header, a card number, a JWT, a dict of headers);
* ``nested``: a 32x32 dict of lists of short strings as the argument;
* ``1 MB <prefix>``: a one-megabyte message made of one redaction family's prefix repeated
  (``"eyJ" * 350_000`` and so on), also passed as the argument -- the input that used to stall the
  host while a value pattern backtracked over it.

Run it::

    .venv/bin/python benchmarks/capture_cost.py

It prints microseconds per raising call (median of ``--repeats`` rounds) and the ratios.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import codewitness.sensor
from codewitness.config import SensorSection

SOURCE = """
def fail(message, payload, extra=None):
    raise ValueError(message)
"""

#: One prefix per redaction family; each repeated to one megabyte.
PREFIXES = (
    "eyJ",
    "sk-",
    "ghp_",
    "github_pat_",
    "AKIA",
    "xoxb-",
    "Bearer ",
    "Basic ",
    "postgres://u:",
    "password=",
    "Cookie: ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "4111 ",
    "a1B2",
)


def shapes(prefixes: tuple[str, ...] = PREFIXES) -> dict[str, tuple[str, Any, Any]]:
    card = "4111 1111 1111 1111"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    found: dict[str, tuple[str, Any, Any]] = {
        "short": ("sku 42 is out of stock", {"sku": 42, "qty": 1}, "note"),
        "secrets": (
            f"connect postgres://app:S3cr3tPassw0rd@db:5432/shop failed; Authorization: Bearer {jwt}; card {card}",
            {"headers": {"Authorization": f"Bearer {jwt}", "Cookie": "session=abc123def456"}, "card": card},
            [("x-api-key", "k_9f8e7d6c5b4a39281706"), ("accept", "json")],
        ),
        "nested": ("bad cart", {f"k{i}": [f"item {i}-{j}" for j in range(32)] for i in range(32)}, None),
    }
    for prefix in prefixes:
        big = prefix * (1_000_000 // len(prefix))
        found[f"1 MB {prefix.strip()[:16]}"] = (big, big, None)
    return found


def time_raises(fn: Any, message: str, payload: Any, extra: Any, calls: int) -> float:
    """Seconds per raising call (the caller catches)."""
    start = time.perf_counter()
    for _ in range(calls):
        try:  # noqa: SIM105 - contextlib.suppress would add its own cost to every call
            fn(message, payload, extra)
        except ValueError:
            pass
    return (time.perf_counter() - start) / calls


def load(folder: Path, name: str) -> Any:
    (folder / f"{name}.py").write_text(textwrap.dedent(SOURCE))
    return importlib.import_module(name)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--calls", type=int, default=200, help="raising calls per round for small shapes")
    parser.add_argument("--big-calls", type=int, default=5, help="raising calls per round for 1 MB shapes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--without", action="append", default=[], help="leave out a 1 MB prefix (an old build stalls minutes on eyJ)"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cw-bench-capture-"))
    sys.path.insert(0, str(folder))
    plain = load(folder, "cw_capture_plain").fail
    sensor = codewitness.sensor.init(
        service="bench",
        manifest=folder / "none.json",
        include=["cw_capture_watched.fail"],
        spool_dir="",
        interval=3600,
        settings=SensorSection(exceptions_per_interval=10**9, exception_bytes_per_interval=1 << 60, queue_size=10**9),
    )
    assert sensor is not None
    watched = load(folder, "cw_capture_watched").fail

    print(f"Python {sys.version.split()[0]}, median of {args.repeats} rounds, microseconds per raising call")
    print(f"  {'shape':<22} {'unwatched':>10} {'watched':>10} {'added':>10} {'ratio':>8}")
    prefixes = tuple(p for p in PREFIXES if p not in args.without)
    for name, (message, payload, extra) in shapes(prefixes).items():
        calls = args.big_calls if name.startswith("1 MB") else args.calls
        before = len(sensor._events)
        rounds_plain, rounds_watched = [], []
        for _ in range(args.repeats):
            rounds_plain.append(time_raises(plain, message, payload, extra, calls))
            rounds_watched.append(time_raises(watched, message, payload, extra, calls))
        captured = len(sensor._events) - before
        assert captured == calls * args.repeats, (name, captured)
        sensor._events.clear()
        p, w = statistics.median(rounds_plain) * 1e6, statistics.median(rounds_watched) * 1e6
        print(f"  {name:<22} {p:10.1f} {w:10.1f} {w - p:10.1f} {w / p:7.1f}x")
    codewitness.sensor.shutdown()


if __name__ == "__main__":
    main()
