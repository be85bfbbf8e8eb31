"""Tokens and latency of captured generations, read from the agents' transcripts at commit time.

The hook never reads them (it must be quick); by commit time the transcript holds the response's
``usage`` line. An agent module whose transcripts carry no usage has ``usage_from_transcript = None``,
and its generations keep unknown tokens.

Example:
    >>> with_usage(result.generations, journal.edits())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from codewitness.capture.journal import PendingEdit
from codewitness.model import Generation

__all__ = ["with_usage"]


def with_usage(generations: Sequence[Generation], edits: Iterable[PendingEdit]) -> list[Generation]:
    """``generations`` with tokens and latency filled in where the agent's transcript records them.

    A generation that already carries tokens or a latency is left as it is; an unreadable
    transcript leaves it unknown.
    """
    from codewitness.capture.agent import agent_modules

    readers = {module.AGENT: module.usage_from_transcript for module in agent_modules().values()}
    transcripts: dict[tuple[str, str | None], str] = {
        (e.agent, e.tool_call_id): e.transcript_path for e in edits if e.tool_call_id and e.transcript_path
    }
    done: list[Generation] = []
    for generation in generations:
        reader = readers.get(generation.agent)
        path = transcripts.get((generation.agent, generation.tool_call_id))
        known = generation.input_tokens is not None or generation.latency_ms is not None
        usage = None if known or reader is None or path is None else reader(path, generation.tool_call_id)
        if usage is not None:
            generation = dataclasses.replace(
                generation,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                latency_ms=usage.latency_ms,
            )
        done.append(generation)
    return done
