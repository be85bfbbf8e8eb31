"""The sensor's plug-in interface: checks, collectors, and a reporter with a no-op default.

Runtime invariants and review sampling ride on the sensor as plug-ins; so can anything else that
needs to see calls of watched functions or add records to each batch. A plug-in registers with
the sensor -- ``codewitness.init()`` hands the sensor its plug-ins -- and the sensor never looks
one up. A plug-in is an object with a ``name``, a ``setup(host)`` and a ``teardown(host)``:

.. code-block:: python

    class CallCounter:
        name = "call-counter"

        def __init__(self) -> None:
            self.calls = 0

        def setup(self, host: Host) -> None:
            host.add_check_factory("shop.*", lambda function, parameters: self.check)
            host.add_collector(self.drain)

        def teardown(self, host: Host) -> None:
            pass

        def check(self, arguments, result) -> None:   # after each successful call
            self.calls += 1

        def drain(self) -> list[dict]:                  # once per interval, exporter thread
            calls, self.calls = self.calls, 0
            return [{"kind": "...", "id": uuid.uuid4().hex, ...}] if calls else []

    codewitness.sensor.init(service="shop", plugins=[CallCounter()])

What the host (the running sensor) offers:

* ``add_check_factory(pattern, factory)`` -- ``factory(function, parameter_names)`` is called
  once for every watched function whose ``module.qualname`` matches the glob ``pattern``, now
  and as modules load; the :data:`Check` it returns (or ``None``: not here) runs after every
  successful call of that function, on the calling thread, with the call's arguments by name
  and its result. It must not block (it takes no lock) and may raise: an ``Exception`` is
  counted as the sensor's internal error, never reaches the host, except
  :class:`~codewitness.errors.InvariantViolation`, which does (a rule in ``raise`` mode).
* ``add_collector(collector)`` -- ``collector()`` runs once per interval on the exporter thread
  (it may block there); the records it returns join the batch, with the source fields added.
* ``report_event(function, record)`` -- queue an event about a function (an invariant breach, a
  review item) from any thread; the source and origin fields are added, and the completed
  record is returned. The queue is bounded: a full one drops and counts.
* ``redactor`` -- what every value that leaves the process goes through
  (:class:`~codewitness.sensor.snapshot.Redactor`).
* ``internal_error(where)`` -- count an error of the plug-in's own.
* ``add_event_context(name, provider)`` -- every event captured from now on (exceptions,
  breaches, samples, review items) gets ``provider()`` as its field ``name`` unless it returns
  ``None``; it runs on the application's thread as the event is captured, so it must be quick
  (the flow plug-in gives events the request they happened in this way).
* ``add_keeper(keeper)`` -- a function for which ``keeper(function)`` is true stays watched however
  cheap and busy it is (``sensor.unwatch_cheap_calls``); the invariants plug-in keeps every
  function that carries a rule this way. It is asked on the exporter thread; an exception from it
  is counted and keeps the function watched.
* ``watches(function)`` -- whether a ``module.qualname`` is watched now; ``function_facts(function)``
  -- its name and origin fields as events carry them (``origin`` ``unknown`` when nothing is known).

``setup`` runs once, before the sensor watches anything; an exception from it leaves that plug-in
out (logged, counted as ``plugin.<name>``), never the others or the sensor. ``teardown`` runs when
the sensor shuts down; a plug-in that reported through the sensor stops doing so there.

A plug-in that may run without a sensor (decorators guard calls whether or not one runs)
reports through a :class:`Reporter`: the sensor while one runs, :data:`NO_REPORTER` otherwise.

Standard library only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from codewitness.sensor.snapshot import Redactor

__all__ = ["NO_REPORTER", "Check", "CheckFactory", "Collector", "Host", "Keeper", "Plugin", "Reporter"]

#: Runs after every successful call of one function, with its arguments by name and its result.
Check = Callable[[Mapping[str, Any], Any], None]
#: Makes the check of one function (``module.qualname``, its parameter names when known), or
#: ``None`` when it does not apply there.
CheckFactory = Callable[[str, "tuple[str, ...] | None"], "Check | None"]
#: Runs once per interval on the exporter thread; returns extra records for the batch.
Collector = Callable[[], "list[dict[str, Any]]"]
#: Whether a function (``module.qualname``) must stay watched however cheap and busy it is; asked
#: on the exporter thread, once per function, when the sensor would otherwise unwatch it.
Keeper = Callable[[str], bool]


class Reporter(Protocol):
    """Where a plug-in's events and its own errors go."""

    @property
    def redactor(self) -> Redactor:
        """Redacts every captured value before it is reported."""

    def report_event(self, function: str, record: dict[str, Any]) -> dict[str, Any]:
        """Send an event about ``function``; returns the record as sent (source fields added)."""

    def internal_error(self, where: str) -> None:
        """Count an error of the plug-in's own; never raises."""


class Host(Reporter, Protocol):
    """What a running sensor offers its plug-ins (see the module docstring)."""

    def add_check_factory(self, pattern: str, factory: CheckFactory) -> None:
        """Give each watched function matching ``pattern`` the check ``factory`` makes for it."""

    def add_collector(self, collector: Collector) -> None:
        """Add the records ``collector()`` returns to every interval's batch."""

    def add_event_context(self, name: str, provider: Callable[[], Any]) -> None:
        """Add ``provider()`` as the field ``name`` of every event captured from now on."""

    def add_keeper(self, keeper: Keeper) -> None:
        """Never unwatch a function for which ``keeper(function)`` is true (``sensor.unwatch_cheap_calls``)."""

    def watches(self, function: str) -> bool:
        """Whether ``function`` (``module.qualname``) is watched now."""

    def function_facts(self, function: str | None) -> dict[str, Any]:
        """``function`` and its origin fields, as events about it carry them."""


class Plugin(Protocol):
    """Something that rides on the sensor (see the module docstring)."""

    name: str

    def setup(self, host: Host) -> None:
        """Register checks and collectors; may raise (the plug-in is then left out)."""

    def teardown(self, host: Host) -> None:
        """The sensor is shutting down: stop reporting through it."""


class _NoReporter:
    """The reporter while no sensor runs: events go nowhere (they are still redacted, with the
    default rules, for whatever the plug-in keeps of them in-process), errors are not counted."""

    @functools.cached_property
    def redactor(self) -> Redactor:
        from codewitness.sensor.snapshot import Redactor

        return Redactor()

    def report_event(self, function: str, record: dict[str, Any]) -> dict[str, Any]:
        return record

    def internal_error(self, where: str) -> None:
        return None


#: The default :class:`Reporter`: nothing leaves, nothing is counted.
NO_REPORTER: Reporter = _NoReporter()
