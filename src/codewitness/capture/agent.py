"""The shape of an agent module (:class:`AgentModule`), and loading one by its command-line name.

Every coding agent codewitness captures from has one module of this shape
(:mod:`~codewitness.capture.claude`, :mod:`~codewitness.capture.cursor`,
:mod:`~codewitness.capture.codex`, :mod:`~codewitness.capture.gemini`), the way sentry-python
has one module per integration. Everything agent-specific lives there: what its hook payloads
mean, where its settings are and how our hooks go in and out of them, where its transcript
keeps the model and prompt, how its hooks answer, and why it may not run our hooks at all.
Everything else (:mod:`~codewitness.capture._base`, :mod:`~codewitness.capture.setup`,
``codewitness check --hook``) works through this protocol.

Example:
    >>> agent_module("claude").AGENT
    'claude-code'
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from codewitness.capture import AGENT_MODULES
from codewitness.capture._base import HookOutput, Parsed, TranscriptReader, UsageReader
from codewitness.errors import UsageError

__all__ = ["AgentModule", "agent_module", "agent_modules"]


class AgentModule(Protocol):
    """What every agent module provides (module-level names).

    Attributes:
        AGENT: our id of the agent, as it appears in generations (``claude-code``, ``cursor``, ...).
        SETTINGS_FILE: the project settings file its hooks are installed in, relative to the root.
        HOOK_CAN_BLOCK: whether its after-edit hook can hand a problem back to the model as the
            tool call's failure (``False``: it can only add context).
        CONTEXT_EVENTS: the hook events whose answer can add context for the model (before an
            edit, on a prompt); there the hook answers with the live problems of the files concerned.
        from_transcript: ``(path, tool_call_id, file_path) -> (model, prompt)`` read from the
            agent's transcript when its payloads lack them; ``None`` when payloads carry both.
        usage_from_transcript: ``(path, tool_call_id) -> Usage`` (tokens and latency of the model
            response behind a tool call) where the agent's transcript records them, else ``None``.
    """

    AGENT: str
    SETTINGS_FILE: str
    HOOK_CAN_BLOCK: bool
    CONTEXT_EVENTS: tuple[str, ...]

    @property
    def from_transcript(self) -> TranscriptReader | None: ...

    @property
    def usage_from_transcript(self) -> UsageReader | None: ...

    def parse(self, payload: Mapping[str, Any]) -> Parsed:
        """One hook payload as actions; raises ``PayloadError`` for one it does not capture."""
        ...

    def install_settings(self, settings: dict[str, Any], command: str) -> dict[str, Any]:
        """The parsed settings file with our hook entries (running ``command``) merged in."""
        ...

    def uninstall_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The parsed settings file without our hook entries."""
        ...

    def hook_output(self, message: str, *, block: bool) -> HookOutput:
        """How an after-edit hook hands ``message`` to the model (as a problem when ``block``)."""
        ...

    def context_output(self, event: str, message: str) -> HookOutput:
        """How a hook answering ``event`` (one of ``CONTEXT_EVENTS``) adds ``message`` to the model's context."""
        ...

    def cannot_enable(self, root: Path) -> str | None:
        """Why the agent would not run our hooks in the project at ``root`` (a setting that turns
        hooks off, a settings format we do not write), or ``None``."""
        ...


def agent_module(name: str) -> AgentModule:
    """The agent module for a command-line name (``claude``, ``cursor``, ``codex``, ``gemini``).

    Raises:
        UsageError: an unknown name.
    """
    if name not in AGENT_MODULES:
        raise UsageError(f"unknown agent {name!r}; choose from {', '.join(AGENT_MODULES)}")
    module: AgentModule = importlib.import_module(AGENT_MODULES[name])
    return module


def agent_modules() -> dict[str, AgentModule]:
    """Every agent module by its command-line name."""
    return {name: agent_module(name) for name in AGENT_MODULES}


if TYPE_CHECKING:
    # mypy checks here that each agent module has the protocol's shape.
    from codewitness.capture import claude, codex, cursor, gemini

    _CHECKED: tuple[AgentModule, ...] = (claude, cursor, codex, gemini)
