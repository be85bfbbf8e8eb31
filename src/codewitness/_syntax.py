"""Does a file's text parse? The one answer used at commit time and by the compilation metric.

Python is compiled to bytecode (``compile``, which also rejects ``return`` outside a function and
the like, beyond what the parser alone sees); JSON and TOML are parsed. Other files have no answer.
Nothing is executed. Standard library only.

Example:
    >>> check_syntax("a.py", "def f(:\\n").ok
    False
    >>> check_syntax("notes.txt", "anything") is None
    True
"""

from __future__ import annotations

import json
import tomllib
import warnings
from dataclasses import dataclass

__all__ = ["LANGUAGES", "CompileVerdict", "SyntaxResult", "check_syntax", "language_of"]

#: File suffix -> the language checked.
LANGUAGES = {".py": "python", ".pyi": "python", ".json": "json", ".toml": "toml"}


@dataclass(frozen=True)
class SyntaxResult:
    """The answer for one text: its language, whether it parses, and the first error in one line."""

    language: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class CompileVerdict:
    """Whether one file a generation wrote parses: as the agent left it (``raw``) and as committed.

    ``None`` means not known (the text was not there to read). The errors are one line each.
    """

    generation_id: str
    path: str
    language: str
    raw_ok: bool | None
    committed_ok: bool | None
    raw_error: str | None = None
    committed_error: str | None = None
    commit: str | None = None


def language_of(path: str) -> str | None:
    """The language checked for ``path`` (by suffix), or ``None``."""
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:].lower()) if dot >= 0 else None


def check_syntax(path: str, text: str) -> SyntaxResult | None:
    """Whether ``text`` (the content of ``path``) parses; ``None`` for a language not checked."""
    language = language_of(path)
    if language is None:
        return None
    try:
        if language == "python":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not a failure
                compile(text, path, "exec", dont_inherit=True)
        elif language == "json":
            json.loads(text)
        else:
            tomllib.loads(text)
    except SyntaxError as exc:
        return SyntaxResult(language, False, f"line {exc.lineno}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:  # json/toml errors; absurd nesting
        return SyntaxResult(language, False, " ".join(str(exc).split())[:300] or type(exc).__name__)
    return SyntaxResult(language, True)
