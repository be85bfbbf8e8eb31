"""Capture from coding agents: hook payloads -> checkpoints -> generations linked to commits.

One module per agent, all of the same shape (see :mod:`codewitness.capture._base`):
:mod:`~codewitness.capture.claude`, :mod:`~codewitness.capture.cursor`,
:mod:`~codewitness.capture.codex`, :mod:`~codewitness.capture.gemini`. The hook entry point is
:mod:`codewitness.capture.hook` (standard library only, so agents wait milliseconds);
:mod:`codewitness.capture.commit` links captured edits to commits as git notes (and carries
notes to picked, merged and squashed commits); :mod:`codewitness.capture.setup` installs and
removes the hooks; :mod:`codewitness.capture.sync` shares notes with remotes;
:mod:`codewitness.capture.doctor` checks a clone.

Example:
    >>> AGENT_MODULES["claude"]
    'codewitness.capture.claude'
"""

from __future__ import annotations

__all__ = ["AGENT_MODULES"]

#: The name used on the command line (``codewitness hook claude``) -> the agent module.
AGENT_MODULES: dict[str, str] = {
    "claude": "codewitness.capture.claude",
    "cursor": "codewitness.capture.cursor",
    "codex": "codewitness.capture.codex",
    "gemini": "codewitness.capture.gemini",
}
