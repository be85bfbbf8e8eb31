"""Tokens and latency of a Claude Code response, read from its transcript at commit time."""

from __future__ import annotations

import json
from pathlib import Path

from codewitness.capture.claude import usage_from_transcript


def _write(path: Path, lines: list[object]) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def _assistant(
    msg: str, when: str, *blocks: dict[str, object], usage: dict[str, int] | None = None
) -> dict[str, object]:
    message: dict[str, object] = {"id": msg, "role": "assistant", "model": "claude-opus-4-5", "content": list(blocks)}
    if usage is not None:
        message["usage"] = usage
    return {"type": "assistant", "timestamp": when, "message": message}


def _tool(call: str) -> dict[str, object]:
    return {"type": "tool_use", "id": call, "name": "Write", "input": {}}


USAGE = {"input_tokens": 10, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000, "output_tokens": 77}


def test_tokens_include_cache_and_latency_runs_from_the_message_answered(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.jsonl",
        [
            {"type": "user", "timestamp": "2026-11-20T09:00:00Z", "message": {"role": "user", "content": "write it"}},
            _assistant("msg_1", "2026-11-20T09:00:01.500Z", {"type": "thinking", "thinking": "..."}, usage=USAGE),
            _assistant("msg_1", "2026-11-20T09:00:06.250Z", _tool("toolu_a"), usage=USAGE),
        ],
    )
    usage = usage_from_transcript(path, "toolu_a")
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (3210, 77)
    assert usage.latency_ms == 6250.0  # from the user's message, not from the response's own first line


def test_a_response_with_two_tool_calls_counts_its_tokens_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.jsonl",
        [
            {"type": "user", "timestamp": "2026-11-20T09:00:00Z", "message": {"role": "user", "content": "two files"}},
            _assistant("msg_1", "2026-11-20T09:00:03Z", _tool("toolu_a"), usage=USAGE),
            _assistant("msg_1", "2026-11-20T09:00:05Z", _tool("toolu_b"), usage=USAGE),
        ],
    )
    first, second = usage_from_transcript(path, "toolu_a"), usage_from_transcript(path, "toolu_b")
    assert first is not None and first.input_tokens == 3210
    assert second is not None and second.input_tokens is None and second.output_tokens is None
    assert (first.latency_ms, second.latency_ms) == (3000.0, 5000.0)


def test_unknown_calls_broken_lines_and_missing_files(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.jsonl",
        [
            "{not json",
            _assistant("msg_1", "not a time", _tool("toolu_a")),
        ],
    )
    assert usage_from_transcript(path, "toolu_zzz") is None
    usage = usage_from_transcript(path, "toolu_a")
    assert usage is not None and usage.latency_ms is None and usage.input_tokens is None
    assert usage_from_transcript(str(tmp_path / "missing.jsonl"), "toolu_a") is None
    assert usage_from_transcript(path, None) is None
