"""The per-call meters: the compiled one counts exactly like the pure-Python reference."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.errors import InvariantViolation
from codewitness.facts import BUCKETS, LAST_BUCKET, MAX_TRACKED_NS, bucket_index
from codewitness.sensor import meter as meter_module
from codewitness.sensor.meter import COMPILED, PyMeter, meter_type, now

METERS = [PyMeter, *([meter_type(compiled=True)] if COMPILED else [])]


def expected_bucket(ns: int) -> int:
    return LAST_BUCKET if ns >= MAX_TRACKED_NS else bucket_index(max(ns, 0))


@pytest.mark.parametrize("meter", METERS)
@given(st.lists(st.integers(min_value=-(2**40), max_value=2**70), max_size=60))
def test_every_latency_lands_in_the_histogram_bucket_of_aggregate(meter: Any, values: list[int]) -> None:
    m = meter()
    expected: dict[int, int] = {}
    for ns in values:
        m.add(ns)
        index = expected_bucket(ns)
        expected[index] = expected.get(index, 0) + 1
    assert m.take() == expected
    assert m.take() == {}
    assert all(0 <= index < BUCKETS for index in expected)


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here")
@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_the_compiled_bucket_function_is_aggregate_s(ns: int) -> None:
    from codewitness.sensor import _meter  # type: ignore[attr-defined]

    assert _meter.bucket_of(ns) == (expected_bucket(ns) if ns < MAX_TRACKED_NS else LAST_BUCKET)


@pytest.mark.parametrize("meter", METERS)
def test_enter_and_exit_time_one_call(meter: Any) -> None:
    m = meter()
    t0 = m.enter()
    assert 0 <= now() - int(t0) < 1_000_000_000  # the token is the clock reading at entry
    m.exit(t0)
    m.exit(now() - 3_000_000)  # a call that began 3 ms ago
    taken = m.take()
    assert sum(taken.values()) == 2
    slowest = max(taken)
    assert bucket_index(3_000_000) <= slowest <= bucket_index(4_000_000)


@pytest.mark.parametrize("meter", METERS)
def test_nested_calls_deeper_than_the_token_free_list_are_each_timed(meter: Any) -> None:
    m = meter()
    tokens = [m.enter() for _ in range(1000)]  # more starts alive at once than the free list holds
    for token in reversed(tokens):
        m.exit(token)
    del tokens
    tokens = [m.enter() for _ in range(300)]  # and made again from it
    for token in tokens:
        m.exit(token)
    assert sum(m.take().values()) == 1300


# In a fresh process: the first reading, the switch to the time-stamp counter once its scale is
# measured (after 20 ms), and the finer scale at a take a second later all keep the clock's time.
_CLOCK_CHECK = """
import json, sys, time
from codewitness.sensor import _meter
m = _meter.Meter(None)
pairs = [(_meter.now(), time.perf_counter_ns())]
t0 = m.enter()
for pause in (0.005, 0.03, 0.2, 1.1):
    time.sleep(pause)
    m.take()
    pairs.append((_meter.now(), time.perf_counter_ns()))
m.exit(t0)
print(json.dumps({"clock": _meter.clock(), "pairs": pairs, "start": int(t0), "counts": m.take()}))
"""


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here")
def test_the_compiled_clock_keeps_time_across_its_calibration() -> None:
    import itertools
    import json
    import platform
    import subprocess
    from pathlib import Path

    source = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    kernel = source.read_text().strip() if source.exists() else ""
    done = subprocess.run([sys.executable, "-c", _CLOCK_CHECK], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    counter = kernel == "tsc" and sys.platform == "linux" and platform.machine() == "x86_64"
    assert report["clock"] == ("tsc" if counter else "monotonic")
    pairs = report["pairs"]
    for (ours_a, theirs_a), (ours_b, theirs_b) in itertools.pairwise(pairs):
        elapsed = theirs_b - theirs_a
        assert abs((ours_b - ours_a) - elapsed) <= elapsed * 0.002 + 50_000
    spanned = pairs[-1][1] - pairs[0][1]  # one call across every switch of scale
    (bucket, count), = report["counts"].items()
    assert count == 1
    assert bucket_index(int(spanned * 0.99)) <= int(bucket) <= bucket_index(int(spanned * 1.01))


class RecordingProbe:
    """Stands in for Probe's slow path: records what the meter hands it."""

    def __init__(self) -> None:
        self.entered_with: list[dict[str, Any]] = []
        self.returned_with: list[tuple[Any, Any]] = []

    def entered(self, frame_locals: Any) -> tuple[str, dict[str, Any]]:
        named = {k: v for k, v in frame_locals.items() if k != "m"}  # ``m`` is the test's closure
        self.entered_with.append(named)
        return ("token", named)

    def returned(self, token: Any, result: Any) -> None:
        self.returned_with.append((token, result))


@pytest.mark.parametrize("meter", METERS)
def test_the_slow_path_hands_the_caller_s_locals_and_result_to_the_probe(meter: Any) -> None:
    probe = RecordingProbe()
    m = meter(probe)
    m.slow = True
    assert m.slow is True

    def watched(a: int, b: int = 2) -> int:
        __cw_t0__ = m.enter()
        try:
            return (__cw_r__ := a * b)  # noqa: F841 - the meter reads it from the frame
        finally:
            m.exit(__cw_t0__)

    def falls_off_the_end(a: int) -> None:
        __cw_t0__ = m.enter()
        try:
            a += 1
        finally:
            m.exit(__cw_t0__)

    assert watched(3) == 6
    falls_off_the_end(1)
    assert probe.entered_with[0] == {"a": 3, "b": 2}
    assert probe.entered_with[1] == {"a": 1}
    assert probe.returned_with == [(("token", {"a": 3, "b": 2}), 6), (("token", {"a": 1}), None)]
    assert m.take() == {}  # the slow path counts through the probe, not here
    m.slow = False
    assert watched(2, 2) == 4
    assert sum(m.take().values()) == 1


@pytest.mark.skipif(not COMPILED, reason="the compiled meter is not built here")
def test_the_compiled_meter_is_collected_with_its_probe() -> None:
    import gc
    import weakref

    compiled = meter_type(compiled=True)

    class Holder:
        pass

    holder = Holder()
    holder.meter = compiled(holder)  # type: ignore[attr-defined]  # a cycle: probe -> meter -> probe
    gone = weakref.ref(holder)
    del holder
    gc.collect()
    assert gone() is None


def test_speedups_off_gives_the_pure_python_meter() -> None:
    assert meter_type(compiled=False) is PyMeter
    assert meter_type(compiled=True) is (PyMeter if not COMPILED else meter_module._compiled.Meter)


class CapturingProbe:
    """Stands in for Probe.raised: records what it is handed and the frame it reads the
    arguments from, returns the call's start."""

    def __init__(self) -> None:
        self.raised_with: list[tuple[Any, BaseException]] = []
        self.frames: list[str] = []

    def raised(self, token: Any, exc: BaseException, depth: int = 1) -> int:
        self.raised_with.append((token, exc))
        self.frames.append(sys._getframe(depth).f_code.co_name)  # as Probe.raised reads it
        return int(token) if isinstance(token, int) else int(token[2])


def timed(m: Any, body: Callable[[], Any], token: Any = None) -> Any:
    """``body`` run the way a rewritten function runs (``_rewriting._INLINE_SOURCE``)."""
    t0 = m.enter() if token is None else token
    try:
        return body()
    finally:
        m.exit(t0)


def raiser(exc: BaseException) -> Callable[[], Any]:
    def body() -> Any:
        raise exc

    return body


def calls(m: Any) -> int:
    return sum(m.take().values())


def errors_of(m: Any) -> tuple[dict[type, int], int]:
    """``m.take_errors()`` with its ``(type, count)`` pairs as a dictionary (each type listed once)."""
    pairs, suppressed = m.take_errors()
    by_type = dict(pairs)
    assert len(by_type) == len(pairs)
    return by_type, suppressed


# More exception types than the compiled meter keeps in slots (4), so some go to its dictionary.
KINDS = [ValueError, KeyError, TypeError, OSError, ZeroDivisionError, LookupError, RuntimeError]


@pytest.mark.parametrize("meter", METERS)
@given(st.lists(st.lists(st.sampled_from(KINDS), max_size=25), min_size=1, max_size=3), st.integers(0, 3))
def test_errors_are_counted_per_type_and_interval_whatever_the_mix(
    meter: Any, intervals: list[list[type[Exception]]], limit: int
) -> None:
    probe = CapturingProbe()
    m = meter(probe, limit)
    for raised in intervals:
        probe.raised_with.clear()
        for kind in raised:
            with pytest.raises(kind):
                timed(m, raiser(kind("x")))
        expected = {kind: raised.count(kind) for kind in set(raised)}
        captured = sum(min(n, limit) for n in expected.values())
        assert errors_of(m) == (expected, len(raised) - captured)
        assert [type(exc) for _, exc in probe.raised_with] == [
            kind for i, kind in enumerate(raised) if raised[: i + 1].count(kind) <= limit
        ]
        assert calls(m) == len(raised)


@pytest.mark.parametrize("meter", METERS)
def test_an_exception_class_is_not_kept_alive_past_the_interval(meter: Any) -> None:
    import gc
    import weakref

    m = meter(None, 0)
    passing = type("Passing", (Exception,), {})
    with pytest.raises(passing):
        timed(m, raiser(passing()))
    gone = weakref.ref(passing)
    assert errors_of(m) == ({passing: 1}, 1)
    del passing
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize("meter", METERS)
def test_exit_counts_an_exception_leaving_the_call_and_hands_the_first_few_per_type_to_the_probe(
    meter: Any,
) -> None:
    probe = CapturingProbe()
    m = meter(probe, 2)
    errors = [ValueError("a"), ValueError("b"), KeyError("c"), ValueError("d"), GeneratorExit()]
    for exc in errors:
        with pytest.raises(type(exc)):
            timed(m, raiser(exc))
    assert [exc for _, exc in probe.raised_with] == errors[:3]
    assert set(probe.frames) == {"timed"}  # the arguments are read from the function's frame
    with pytest.raises(KeyError):
        timed(m, raiser(KeyError("e")), token=({"x": 1}, None, 77))  # a slow-path token
    assert probe.raised_with[-1][0] == ({"x": 1}, None, 77)
    by_type, suppressed = errors_of(m)
    assert by_type == {ValueError: 3, KeyError: 2}  # GeneratorExit is a normal end
    assert suppressed == 1  # the third ValueError
    assert calls(m) == 6  # every call is timed, failed or not
    assert errors_of(m) == ({}, 0)
    with pytest.raises(ValueError):
        timed(m, raiser(ValueError("after the interval")))
    assert len(probe.raised_with) == 5  # the budget starts again with the interval


@pytest.mark.parametrize("meter", METERS)
def test_a_call_made_while_its_caller_handles_an_exception_returns_normally(meter: Any) -> None:
    m = meter(CapturingProbe(), 5)
    try:
        raise OSError("the caller's")
    except OSError:
        assert timed(m, lambda: 1) == 1
        with pytest.raises(KeyError):
            timed(m, raiser(KeyError("its own")))
    assert errors_of(m)[0] == {KeyError: 1}
    assert calls(m) == 2


@pytest.mark.parametrize("meter", METERS)
def test_a_generator_finished_while_its_consumer_handles_an_exception_ends_normally(meter: Any) -> None:
    m = meter()

    def numbers() -> Any:
        t0 = m.enter()
        try:
            yield 1
            yield 2
        finally:
            m.exit(t0)

    started = numbers()
    next(started)
    try:
        raise OSError("the consumer's")
    except OSError:
        assert list(started) == [2]
    thrown = numbers()
    next(thrown)
    with pytest.raises(ZeroDivisionError):
        thrown.throw(ZeroDivisionError)
    closed = numbers()
    next(closed)
    closed.close()
    assert errors_of(m)[0] == {ZeroDivisionError: 1}
    assert calls(m) == 3


@pytest.mark.parametrize("meter", METERS)
def test_fail_counts_a_bare_reraise_of_the_caller_s_exception_and_exit_then_does_nothing(meter: Any) -> None:
    probe = CapturingProbe()
    m = meter(probe, 5)

    def reraise() -> None:  # as _RERAISING_SOURCE wraps a function with a bare ``raise``
        t0 = m.enter()
        try:
            raise  # the caller's exception, on purpose
        except BaseException as exc:
            t0 = m.fail(t0, exc)
            raise
        finally:
            m.exit(t0)

    try:
        raise OSError("the caller's")
    except OSError:
        with pytest.raises(OSError):
            reraise()
    assert errors_of(m)[0] == {OSError: 1}
    assert probe.frames == ["reraise"]
    assert calls(m) == 1
    m.exit(None)
    assert calls(m) == 0


@pytest.mark.parametrize("meter", METERS)
def test_a_meter_without_a_probe_counts_errors_without_capturing(meter: Any) -> None:
    m = meter()
    with pytest.raises(RuntimeError):
        timed(m, raiser(RuntimeError()))
    assert errors_of(m) == ({RuntimeError: 1}, 1)


@pytest.mark.parametrize("meter", METERS)
def test_a_generator_that_handles_what_its_consumer_threw_in_ends_normally(meter: Any) -> None:
    import contextlib

    probe = CapturingProbe()
    m = meter(probe, 5)

    @contextlib.contextmanager
    def forgiving() -> Any:  # as the sensor rewrites a generator (_rewriting._INLINE_SOURCE)
        t0 = m.enter()
        try:
            try:  # noqa: SIM105 - the generator itself handles what is thrown in, as the issue's did
                yield
            except ValueError:
                pass
        finally:
            try:
                m.exit(t0)
            except InvariantViolation:
                raise
            except Exception:
                pass

    for _ in range(10):
        with forgiving():
            raise ValueError("swallowed")
    with pytest.raises(KeyError), forgiving():
        raise KeyError("passes through")
    assert errors_of(m) == ({KeyError: 1}, 0)
    assert [type(exc) for _, exc in probe.raised_with] == [KeyError]
    assert calls(m) == 11


@pytest.mark.parametrize("meter", METERS)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_a_start_from_any_clock_reading_is_timed_without_overflow(meter: Any, start: int) -> None:
    # A wrapper's start, or the one a probe's token carries, can be any 64-bit int: a start
    # after now is an instant call, one further back than the last bucket reaches is in it.
    m = meter(CapturingProbe(), 5)
    m.exit(start)
    with pytest.raises(KeyError):
        timed(m, raiser(KeyError("k")), token=({}, None, start))
    elapsed = now() - start
    expected = 0 if elapsed <= 0 else (LAST_BUCKET if elapsed >= MAX_TRACKED_NS else None)
    taken = m.take()
    assert sum(taken.values()) == 2
    if expected is not None:
        assert taken == {expected: 2}


@pytest.mark.parametrize("meter", METERS)
def test_exception_types_are_counted_without_running_their_metaclass(meter: Any) -> None:
    ran: list[str] = []

    class Loud(type):
        def __hash__(cls) -> int:
            ran.append("hash")
            raise RuntimeError("no hashing on the counting path")

        def __eq__(cls, other: object) -> bool:
            ran.append("eq")
            return True  # every such type would look like any other

    loud = [Loud(f"Loud{i}", (Exception,), {}) for i in range(3)]
    kinds = [ValueError, KeyError, TypeError, OSError, *loud]  # past the compiled meter's 4 slots
    m = meter(CapturingProbe(), 1)
    for kind in kinds * 2:
        with pytest.raises(kind):
            timed(m, raiser(kind("x")))
    assert ran == []
    pairs, suppressed = m.take_errors()
    assert sorted((kind.__name__, n) for kind, n in pairs) == sorted((kind.__name__, 2) for kind in kinds)
    assert suppressed == len(kinds)
    assert ran == []
    assert calls(m) == 2 * len(kinds)


class InterruptedProbe:
    """A probe whose capture is interrupted (a signal handler raised KeyboardInterrupt in it)."""

    def raised(self, token: Any, exc: BaseException, depth: int = 1) -> int:
        raise KeyboardInterrupt


@pytest.mark.parametrize("meter", METERS)
def test_an_interrupt_in_the_capture_reaches_the_caller_and_the_call_is_counted(meter: Any) -> None:
    m = meter(InterruptedProbe(), 5)
    with pytest.raises(KeyboardInterrupt):
        timed(m, raiser(ValueError("captured")))
    with pytest.raises(KeyboardInterrupt):
        m.fail(m.enter(), KeyError("captured"))
    assert errors_of(m) == ({ValueError: 1, KeyError: 1}, 0)
    assert calls(m) == 2


def _raise_at_one_place(message: str) -> Callable[[], Any]:
    def body() -> Any:
        raise ValueError(message)

    return body


@pytest.mark.skipif(not COMPILED, reason="the compiled meter was not built")
def test_a_muted_failure_is_counted_by_the_compiled_meter_and_handed_over_as_a_number() -> None:
    probe = CapturingProbe()
    m = meter_type(compiled=True)(probe, 1000)
    flood, rare = _raise_at_one_place("malformed JSON"), _raise_at_one_place("no such table: t1")
    with pytest.raises(ValueError):
        timed(m, flood)
    m.mute(probe.raised_with[-1][1])
    for _ in range(50):
        with pytest.raises(ValueError):
            timed(m, flood)
    assert len(probe.raised_with) == 1  # the repeats were counted here
    with pytest.raises(ValueError):
        timed(m, rare)  # another message: another failure, handed over
    def elsewhere() -> Any:
        raise ValueError("malformed JSON")

    with pytest.raises(ValueError):
        timed(m, elsewhere)  # the same message raised elsewhere: handed over
    with pytest.raises(KeyError):
        timed(m, raiser(KeyError("malformed JSON")))  # another type
    assert [str(exc) for _, exc in probe.raised_with] == [
        "malformed JSON",
        "no such table: t1",
        "malformed JSON",
        "'malformed JSON'",
    ]
    assert m.unmute() == 50 and m.unmute() == 0
    by_type, suppressed = errors_of(m)
    assert by_type == {ValueError: 53, KeyError: 1} and suppressed == 50  # every one counted by type
    assert calls(m) == 54
    with pytest.raises(ValueError):
        timed(m, flood)  # unmuted: handed over again
    assert len(probe.raised_with) == 5
    with pytest.raises(TypeError):
        m.mute("not an exception")


def test_the_pure_python_meter_hands_every_exception_over_muted_or_not() -> None:
    probe = CapturingProbe()
    m = PyMeter(probe, 1000)
    flood = _raise_at_one_place("malformed JSON")
    for i in range(3):
        with pytest.raises(ValueError):
            timed(m, flood)
        if i == 0:
            m.mute(probe.raised_with[-1][1])
    assert len(probe.raised_with) == 3 and m.unmute() == 0
