"""Marks that coding agents leave on commits: their accounts, trailers and message lines.

These are weak evidence: they say an agent took part in a commit, not which lines it wrote.
One table, :data:`RULES`, lists every mark we know (docs/attribution.md shows it with where each
shape was seen); :func:`agent_marks` applies it.

A rule of kind ``account`` is matched against a person, ``Name <email>``: the commit's author,
its committer, and every ``Co-authored-by:`` trailer of its message (squash merges concatenate
them; all are read). Cloud agents commit under their own accounts (GitHub's coding agent as
``Copilot <198982749+Copilot@users.noreply.github.com>``, Devin as ``devin-ai-integration[bot]``,
Jules as ``google-labs-jules[bot]``, ...), local ones add trailers. A rule of kind ``message``
is matched against the whole message (``Generated with [Claude Code]``, ``Made-with: Cursor``,
the ``aider:`` prefix, ...).

Example:
    >>> marks = agent_marks("Fix rounding\\n\\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\\n")
    >>> marks[0].agent, marks[0].model, marks[0].where
    ('claude-code', 'Claude Opus 4.5', 'co-author')
    >>> agent_marks("Fix", author="Copilot <198982749+Copilot@users.noreply.github.com>")[0].agent
    'copilot'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["GENERATION_TRAILER", "RULES", "AgentMark", "AgentRule", "agent_marks", "generation_trailers"]

#: The trailer codewitness's prepare-commit-msg hook writes (``capture.commit_trailer``), one per generation.
GENERATION_TRAILER = "Codewitness-Generation"


@dataclass(frozen=True)
class AgentMark:
    """One agent mark found on a commit.

    Attributes:
        agent: our agent id (``claude-code``, ``codex``, ...; ``unknown-ai`` for generic trailers).
        model: a model name when the mark carries one.
        where: ``author``, ``committer``, ``co-author`` (a ``Co-authored-by:`` trailer) or
            ``message`` (any other line of the message).
        text: the matched text, for explanations.
    """

    agent: str
    model: str | None
    where: str
    text: str


@dataclass(frozen=True)
class AgentRule:
    """One row of :data:`RULES`: a shape an agent leaves, and where it is looked for."""

    agent: str
    kind: Literal["account", "message"]
    pattern: re.Pattern[str]


def _account(agent: str, pattern: str) -> AgentRule:
    return AgentRule(agent, "account", re.compile(pattern, re.IGNORECASE))


def _message(agent: str, pattern: str) -> AgentRule:
    return AgentRule(agent, "message", re.compile(pattern, re.IGNORECASE | re.MULTILINE))


_GH = r"@users\.noreply\.github\.com>"  # GitHub's no-reply address: <id>+<login>@users.noreply.github.com

#: Every mark we recognise, in the order they are tried. A ``model`` named group, when present,
#: is reported as the model. Accounts match ``Name <email>``; messages match the whole message.
RULES: tuple[AgentRule, ...] = (
    # Claude: Claude Code's trailer, the Claude GitHub app, Claude Code's message lines.
    _account("claude-code", r"^(?P<model>claude\b[^<]*?)\s*<[^>]*@anthropic\.com>"),
    _account("claude-code", r"\bclaude\[bot\]"),
    _message("claude-code", r"generated with \[?claude code\]?"),
    _message("claude-code", r"^\s*claude-session:\s*\S+"),
    # OpenAI Codex: Codex cloud and its GitHub apps, the CLI's trailer.
    _account("codex", r"\bchatgpt-codex-connector\[bot\]"),
    _account("codex", r"\bopenai-codex\[bot\]"),
    _account("codex", r"\bopenai-code-agent\[bot\]"),
    _account("codex", r"<\d+\+codex" + _GH),
    _account("codex", r"<(?:codex|noreply)@openai\.com>"),
    _account("codex", r"^codex\s*<"),
    # GitHub Copilot: the coding agent (author and co-author), Copilot chat's account.
    _account("copilot", r"\bcopilot-swe-agent\[bot\]"),
    _account("copilot", r"\bcopilot\[bot\]"),
    _account("copilot", r"<\d+\+copilot" + _GH),
    _account("copilot", r"^(?:github )?copilot\s*<"),
    # Cursor: background agents and the editor's trailer.
    _account("cursor", r"<(?:cursoragent|noreply)@cursor\.com>"),
    _account("cursor", r"\bcursor\[bot\]"),
    _account("cursor", r"^cursor(?: agent)?\s*<"),
    _message("cursor", r"^\s*made-with:\s*cursor\b"),
    # aider: " (aider)" after the name, its co-author trailer, the "aider: " message prefix.
    _account("aider", r"^aider\s*\((?P<model>[^)\n]+)\)\s*<"),
    _account("aider", r"\(aider\)\s*(?:<|$)"),
    _account("aider", r"<noreply@aider\.chat>"),
    _message("aider", r"\Aaider:\s"),
    # Google: Gemini Code Assist and Gemini trailers; Jules.
    _account("gemini-cli", r"\bgemini-code-assist(?:\[bot\]|@google\.com)"),
    _account("gemini-cli", r"^(?P<model>gemini\b[^<]*?)\s*<"),
    _account("jules", r"\bgoogle-labs-jules\[bot\]"),
    # Devin (Cognition).
    _account("devin", r"\bdevin-ai-integration\[bot\]"),
    _message("devin", r"generated with \[?devin\]?"),
    # Other cloud agents that commit under their own GitHub accounts.
    _account("amazon-q", r"\bamazon-q-developer\[bot\]"),
    _account("factory-droid", r"\bfactory-droid\[bot\]"),
    _account("openhands", r"<openhands@all-hands\.dev>|\bopenhands-agent\b"),
    _account("opencode", r"\bopencode-agent\[bot\]|<noreply@opencode\.ai>"),
    _message("opencode", r"generated with \[?opencode\]?"),
    _account("amp", r"<amp@ampcode\.com>"),
    _message("amp", r"^\s*amp-thread-id:\s*\S+"),
    _account("codegen", r"\bcodegen-sh\[bot\]"),
    _account("kiro", r"\bkiro-agent\[bot\]"),
    _account("sweep", r"\bsweep-ai\[bot\]"),
    # Generic provenance trailers name a tool but not which agent.
    _message("unknown-ai", r"^\s*(?:generated-by|assisted-by):\s*(?P<model>[^\n]+?)\s*$"),
)

_GENERATION = re.compile(
    r"^[ \t]*codewitness-generation:[ \t]*(gen_[0-9a-f]{6,64})[ \t]*$", re.IGNORECASE | re.MULTILINE
)


def generation_trailers(message: str) -> tuple[str, ...]:
    """The generation ids a commit message names in ``Codewitness-Generation:`` trailers, in order, once each.

    Example:
        >>> generation_trailers("Fix\\n\\nCodewitness-Generation: gen_0123456789abcdef0123\\n")
        ('gen_0123456789abcdef0123',)
    """
    return tuple(dict.fromkeys(m.group(1).lower() for m in _GENERATION.finditer(message)))


_CO_AUTHOR = re.compile(r"^[ \t]*co-authored-by:[ \t]*(?P<person>[^\n]*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)


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
    people = [("author", author), ("committer", committer)]
    people.extend(("co-author", m.group("person")) for m in _CO_AUTHOR.finditer(message))
    found: dict[str, AgentMark] = {}
    for rule in RULES:
        if rule.agent in found:
            continue
        targets = people if rule.kind == "account" else [("message", message)]
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
