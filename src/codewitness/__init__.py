"""codewitness: observability for AI-generated code.

The public Python API is what ``__all__`` lists; everything else is private and may change.

Example:
    >>> import codewitness
    >>> codewitness.init(service="shop")  # doctest: +SKIP
    >>> gid = codewitness.record_generation(  # doctest: +SKIP
    ...     model="claude-sonnet-4-5", prompt="Write total()", output="def total(): ...",
    ...     params={"temperature": 0.2}, prompt_name="pricing", files=["shop/pricing.py:1-12"],
    ... )
"""

from __future__ import annotations

from codewitness._version import __version__

# Agent hooks import this package on every file edit: keep `import codewitness` free of
# `typing` and friends (mypy treats a module-level TYPE_CHECKING constant like typing's).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime
    from typing import Any

    from codewitness.sensor import init

__all__ = ["__version__", "init", "record_generation"]


def __getattr__(name: str) -> object:
    # `codewitness.init` loads the runtime sensor on first use, so `import codewitness` stays light.
    if name == "init":
        from codewitness.sensor import init

        return init
    raise AttributeError(f"module 'codewitness' has no attribute {name!r}")


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
    from codewitness import ledger
    from codewitness.config import load_config
    from codewitness.errors import InputError
    from codewitness.model import FileRange, Generation, utcnow
    from codewitness.store import open_store

    try:
        ranges = tuple(FileRange.parse(f) for f in files)
    except ValueError as exc:
        raise InputError(str(exc)) from None

    generation = Generation.create(
        agent=agent,
        model=model,
        prompt=prompt,
        output=output,
        params=params,
        prompt_name=prompt_name,
        session_id=session_id,
        request_id=request_id,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_ms=latency_ms,
        created_at=created_at or utcnow(),
        files=ranges,
    )
    with open_store(database or load_config().database_url) as store:
        return ledger.record(store, generation, prompt_label=prompt_version).id
