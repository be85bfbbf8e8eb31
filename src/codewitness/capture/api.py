"""Capture from your own pipelines: record one AI generation in the ledger.

:func:`record_generation` is the public ``codewitness.record_generation``; ``codewitness record``
calls :func:`record` with the store it opened.

Example:
    >>> gid = record_generation(  # doctest: +SKIP
    ...     model="claude-sonnet-4-5", prompt="Write total()", output="def total(): ...",
    ...     params={"temperature": 0.2}, prompt_name="pricing", files=["shop/pricing.py:1-12"],
    ... )
    >>> gid  # doctest: +SKIP
    'gen_3f2a...'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack

from codewitness import ledger
from codewitness.errors import InputError
from codewitness.model import FileRange, Generation, utcnow

if TYPE_CHECKING:
    from codewitness.store import Store

__all__ = ["GenerationFields", "file_ranges", "record", "record_generation"]


def file_ranges(specs: Iterable[str | FileRange]) -> tuple[FileRange, ...]:
    """``"path:START-END"`` specs as :class:`FileRange` values (ranges pass through).

    Raises:
        InputError: a spec is malformed.
    """
    try:
        return tuple(s if isinstance(s, FileRange) else FileRange.parse(s) for s in specs)
    except ValueError as exc:
        raise InputError(str(exc)) from None


class GenerationFields(TypedDict, total=False):
    """The details of a generation :func:`record` takes as they are (see :func:`record_generation`)."""

    model: Required[str]
    prompt: Required[str]
    output: Required[str]
    params: Mapping[str, Any] | None
    prompt_name: str | None
    session_id: str | None
    request_id: str | None
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: float | None


def record(
    store: Store,
    *,
    agent: str = "api",
    prompt_version: str | None = None,
    files: Iterable[str | FileRange] = (),
    created_at: datetime | None = None,
    **fields: Unpack[GenerationFields],
) -> Generation:
    """Record one generation in an open store (arguments as :func:`record_generation`).

    Returns:
        The generation as stored: the earlier record, with its own ``created_at``, when the same
        content was recorded before.

    Raises:
        InputError: a file range is malformed.
    """
    generation = Generation.create(agent=agent, files=file_ranges(files), created_at=created_at or utcnow(), **fields)
    return ledger.record(store, generation, prompt_label=prompt_version)


def record_generation(
    *,
    model: str,
    prompt: str,
    output: str,
    agent: str = "api",
    params: Mapping[str, Any] | None = None,
    prompt_name: str | None = None,
    prompt_version: str | None = None,
    files: Iterable[str] = (),
    session_id: str | None = None,
    request_id: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    latency_ms: float | None = None,
    created_at: datetime | None = None,
    database: str | None = None,
) -> str:
    """Record one AI generation in the ledger and return its content-addressed id.

    Recording the same model, prompt, parameters and output again returns the same id and
    stores nothing new.

    Args:
        model: the exact model string the provider reported.
        prompt: the prompt text.
        output: the raw output.
        agent: who produced it (``api`` for your own pipelines).
        params: generation parameters (temperature, top_p, ...), JSON-serialisable.
        prompt_name: a managed prompt's name; each distinct text becomes its next version.
        prompt_version: your own label for that version (kept beside the number).
        files: ``"path:START-END"`` line ranges the output was written to.
        session_id: the session or conversation id.
        request_id: the provider's request id.
        input_tokens: prompt tokens, when known.
        output_tokens: completion tokens, when known.
        latency_ms: request latency, when known.
        created_at: when it was generated (timezone-aware); now by default.
        database: a database URL; the project's configured store by default.

    Returns:
        The generation id (``gen_`` + 20 hex digits).

    Raises:
        InputError: a file range is malformed.
        StoreError: the store cannot be written.
    """
    from codewitness.config import load_config
    from codewitness.store import open_store

    ranges = file_ranges(files)  # a malformed range fails before any store is opened
    with open_store(database or load_config().database_url) as store:
        stored = record(
            store,
            model=model,
            prompt=prompt,
            output=output,
            agent=agent,
            params=params,
            prompt_name=prompt_name,
            prompt_version=prompt_version,
            files=ranges,
            session_id=session_id,
            request_id=request_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            created_at=created_at,
        )
    return stored.id
