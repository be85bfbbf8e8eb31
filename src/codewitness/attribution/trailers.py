"""Marks that coding agents leave on commits: trailers, author suffixes, bot authors.

These are weak evidence: they say an agent took part in a commit, not which lines it wrote.
One table, :data:`RULES`, lists every mark we know; :func:`agent_marks` applies it.

Example:
    >>> marks = agent_marks("Fix rounding\\n\\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\\n")
    >>> marks[0].agent, marks[0].model
    ('claude-code', 'Claude Opus 4.5')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RULES", "AgentMark", "agent_marks"]


@dataclass(frozen=True)
class AgentMark:
    """One agent mark found on a commit.

    Attributes:
        agent: our agent id (``claude-code``, ``codex``, ...; ``unknown-ai`` for generic trailers).
        model: a model name when the mark carries one.
        where: ``message``, ``author`` or ``committer``.
        text: the matched text, for explanations.
    """

    agent: str
    model: str | None
    where: str
    text: str


@dataclass(frozen=True)
class _Rule:
    agent: str
    where: str  # "message", "person" (author or committer name/email)
    pattern: re.Pattern[str]


def _rx(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE | re.MULTILINE)


_COAUTHOR = r"^\s*co-authored-by:\s*"
#: Every mark we recognise. A ``model`` named group, when present, is reported as the model.
RULES: tuple[_Rule, ...] = (
    _Rule("claude-code", "message", _rx(_COAUTHOR + r"(?P<model>claude[^<\n]*?)\s*<[^>\n]*anthropic\.com>")),
    _Rule("claude-code", "message", _rx(_COAUTHOR + r"(?P<model>claude[^<\n]*?)\s*<[^>\n]*>")),
    _Rule("claude-code", "message", _rx(r"generated with \[?claude code\]?")),
    _Rule("claude-code", "message", _rx(r"^\s*claude-session:\s*\S+")),
    _Rule("codex", "message", _rx(_COAUTHOR + r"codex\b[^<\n]*<[^>\n]*>")),
    _Rule("codex", "message", _rx(_COAUTHOR + r"[^<\n]*<[^>\n]*@openai\.com>")),
    _Rule("copilot", "message", _rx(_COAUTHOR + r"copilot\b[^<\n]*<[^>\n]*>")),
    _Rule("copilot", "person", _rx(r"copilot-swe-agent\[bot\]|copilot\[bot\]")),
    _Rule("cursor", "message", _rx(_COAUTHOR + r"cursor[^<\n]*<[^>\n]*>")),
    _Rule("cursor", "message", _rx(r"^\s*made-with:\s*cursor\b")),
    _Rule("cursor", "person", _rx(r"cursoragent@cursor\.com")),
    _Rule("aider", "message", _rx(_COAUTHOR + r"aider\s*\((?P<model>[^)\n]+)\)\s*<[^>\n]*>")),
    _Rule("aider", "message", _rx(r"\Aaider:\s")),
    _Rule("aider", "person", _rx(r"\(aider\)\s*(?:<|$)")),
    _Rule("gemini-cli", "message", _rx(_COAUTHOR + r"(?P<model>gemini[^<\n]*?)\s*<[^>\n]*>")),
    _Rule("gemini-cli", "person", _rx(r"gemini-code-assist\[bot\]")),
    _Rule("devin", "person", _rx(r"devin-ai-integration\[bot\]|^devin ai\b")),
    _Rule("devin", "message", _rx(_COAUTHOR + r"devin[^<\n]*<[^>\n]*>")),
    _Rule("unknown-ai", "message", _rx(r"^\s*(?:generated-by|assisted-by):\s*(?P<model>[^\n]+?)\s*$")),
)


def agent_marks(
    message: str,
    *,
    author: str = "",
    committer: str = "",
) -> tuple[AgentMark, ...]:
    """All agent marks on one commit, at most one per agent (the first rule that matches wins).

    Args:
        message: the full commit message (squash merges concatenate trailers; all are read).
        author: ``"Name <email>"`` of the author.
        committer: ``"Name <email>"`` of the committer.
    """
    found: dict[str, AgentMark] = {}
    for rule in RULES:
        if rule.agent in found:
            continue
        targets = [("message", message)] if rule.where == "message" else [("author", author), ("committer", committer)]
        for where, text in targets:
            match = rule.pattern.search(text) if text else None
            if match is None:
                continue
            model = match.groupdict().get("model")
            found[rule.agent] = AgentMark(
                agent=rule.agent,
                model=model.strip() if model else None,
                where=where,
                text=match.group(0).strip(),
            )
            break
    if "unknown-ai" in found and len(found) > 1:
        # A generic trailer next to a specific mark adds nothing: keep the specific one.
        del found["unknown-ai"]
    return tuple(found.values())
