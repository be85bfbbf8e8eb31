"""The generation ledger: every AI production of code, content-addressed, with its prompt, and the
commits it reached.

A generation's id is derived from model, prompt, parameters and raw output, so recording
the same generation twice stores one row. Prompts are stored once by hash; each distinct text
recorded under a prompt *name* becomes the next version of that name (1, 2, 3, ...), and
versions are never deleted. A user-facing label (``--prompt-version v3``) is kept beside the
number. A commit's links (:func:`record_commit`) say which generations it carries and the
checkpoints (captured edits) behind them.

Example:
    >>> from codewitness.model import Generation
    >>> store = open_store("sqlite:////tmp/ledger-example.db")  # doctest: +SKIP
    >>> g = record(store, Generation.create(agent="api", model="m", prompt="p", output="o"))  # doctest: +SKIP
    >>> get(store, g.id[:8]).id == g.id  # doctest: +SKIP
    True
"""

from __future__ import annotations

from codewitness.ledger._generations import find, get, record
from codewitness.ledger._links import checkpoints_of, commits_of, record_commit
from codewitness.ledger._prompts import (
    PromptVersion,
    prompt_diff,
    prompt_history,
    prompt_names,
    resolve_prompt,
)
from codewitness.ledger._transfer import export_jsonl, import_jsonl

__all__ = [
    "PromptVersion",
    "checkpoints_of",
    "commits_of",
    "export_jsonl",
    "find",
    "get",
    "import_jsonl",
    "prompt_diff",
    "prompt_history",
    "prompt_names",
    "record",
    "record_commit",
    "resolve_prompt",
]
