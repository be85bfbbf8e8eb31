"""SQL statements with their literals out: what the database integrations keep of a query.

:func:`normalize` turns one statement into its shape: every string, number, hex, bit and
dollar-quoted literal becomes ``?``; comments go (they carry request ids, user names, sometimes
secrets); lists of placeholders in ``IN (...)`` and repeated ``VALUES`` rows fold into one, so
that a query run with 3 ids and with 30 is the same statement; whitespace collapses. Parameter
placeholders (``?``, ``%s``, ``%(name)s``, ``:name``, ``$1``) stay as they are: they are not
values. Quoted identifiers stay too. What is left goes through the sensor's redaction like
every other text, and is cut to :data:`MAX_CHARS`.

A statement whose string quote never closes is treated as a literal to its end, so a broken
statement never lets a value through (an identifier quote that never closes protects nothing).
The work is one regular-expression pass, linear in the statement's length; :class:`Normalizer`
remembers the shapes of recent statement texts, so a parameterised query (the same text every
time) costs one dictionary lookup.

Standard library only.

Example:
    >>> normalize("SELECT * FROM users WHERE email = 'ann@example.com' AND id IN (1, 2, 3) -- api")
    'SELECT * FROM users WHERE email = ? AND id IN (?)'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

__all__ = ["MAX_CHARS", "Normalizer", "fingerprint", "normalize"]

#: The longest statement kept (after normalising); longer ones are cut and marked.
MAX_CHARS = 1000

# Only what must change is matched (comments, literals) and quoted identifiers, whose insides must
# never be read as literals. Every match begins with one of a few characters, which the engine
# skips to (a branch per kind after it): a statement with no literal costs about a microsecond.
_TOKENS = re.compile(
    r"""
    [\"`'\-/$0-9.]
    (?:
      (?<=")(?P<quoted>(?:[^"]|"")*")                           # "identifier": kept (if it closes)
    | (?<=`)(?P<backquoted>[^`]*`)                              # `identifier`: kept (if it closes)
    | (?<=-)(?P<line>-[^\n]*)                                  # -- comment
    | (?<=/)(?P<block>\*.*?(?:\*/|\Z))                         # /* comment */ (or to the end)
    | (?<=\$)(?P<dollar>(?P<tag>(?:[A-Za-z_][A-Za-z0-9_]{0,62})?)\$.*?(?:\$(?P=tag)\$|\Z))  # $$..$$, $x$..$x$
    | (?<=')(?P<string>(?:[^']|'')*(?:'|\Z))                   # 'text' (E'..', X'..' keep their letter)
    | (?<=[0-9.])(?P<number>(?<=0)[xX][0-9A-Fa-f]+|(?<=[0-9])\d*\.?\d*(?:[eE][+-]?\d+)?|(?<=\.)\d+(?:[eE][+-]?\d+)?)
    )
    """,
    re.VERBOSE | re.DOTALL,
)
#: Characters around a number that make it part of a name or a placeholder (``t1``, ``$1``, ``?1``).
_NAME_BEFORE = frozenset("_$?:.@#")
_NAME_AFTER = frozenset("_$#")

_PLACEHOLDER = r"(?:\?|%s|\$\d+|:[A-Za-z_]\w*|%\([^)\s]{1,64}\)s)"
# A parenthesised list of placeholders: after ``IN`` it becomes ``(?)`` (the list's length is the
# caller's data, not the statement's shape).
_LIST = re.compile(rf"\({_PLACEHOLDER}(?:, ?{_PLACEHOLDER})+\)")
# ``VALUES (?, ?), (?, ?)`` -> ``VALUES (?, ?)``: one row stands for all.
_ROWS = re.compile(r"(\([^()]*\))(?:, ?\1)+")


def normalize(statement: str) -> str:
    """``statement`` with its literals and comments out (see the module docstring); never raises
    for any text."""

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup
        if kind in ("quoted", "backquoted"):
            return match.group()
        if kind in ("line", "block"):
            return " "
        if kind == "number":
            start, end = match.span()
            before = statement[start - 1] if start else " "
            after = statement[end] if end < len(statement) else " "
            if before.isalnum() or before in _NAME_BEFORE or after.isalnum() or after in _NAME_AFTER:
                return match.group()
        return "?"

    shape = " ".join(_TOKENS.sub(replace, statement).split())
    shape = shape.replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    if "," in shape:
        shape = _LIST.sub(lambda m: "(?)" if _after_in(shape, m.start()) else m.group(), shape)
        if "), (" in shape or "),(" in shape:
            shape = _ROWS.sub(r"\1", shape)
    if len(shape) > MAX_CHARS:
        cut = shape.rfind(" ", 0, MAX_CHARS)
        shape = shape[: cut if cut > 0 else MAX_CHARS] + " ...[cut]"
    return shape


def _after_in(shape: str, at: int) -> bool:
    """Whether the list at ``at`` follows the keyword ``IN``."""
    head = shape[max(0, at - 4) : at].rstrip()
    return head[-2:].upper() == "IN" and (len(head) < 3 or not (head[-3].isalnum() or head[-3] == "_"))


def fingerprint(shape: str) -> str:
    """A short stable id of a normalised statement (16 hex digits)."""
    return hashlib.blake2b(shape.encode("utf-8", "backslashreplace"), digest_size=8).hexdigest()


class Normalizer:
    """Normalises and redacts statements, remembering the result for recent statement texts.

    Args:
        redact: applied to every normalised statement (the sensor's ``Redactor.redact_text``).
        size: how many statement texts are remembered; the memory is emptied when it fills
            (statements with their literals inline never repeat, and must not grow it forever).

    Safe to share between threads: a lost race costs one more normalisation, never a wrong answer.
    """

    __slots__ = ("_known", "_redact", "_size")

    def __init__(self, redact: Callable[[str], str], size: int = 2048) -> None:
        self._redact = redact
        self._size = size
        self._known: dict[str, tuple[str, str]] = {}

    def __call__(self, statement: object) -> tuple[str, str]:
        """The normalised, redacted statement and its fingerprint."""
        known = self._known
        if type(statement) is str:
            try:
                return known[statement]
            except KeyError:
                pass
            text = statement
        elif isinstance(statement, bytes | bytearray | memoryview):
            text = bytes(statement).decode("utf-8", "replace")
        else:  # SQLAlchemy's TextClause, psycopg's sql.Composed, ...: their text, never their repr
            text = _text_of(statement)
        shape = self._redact(normalize(text))
        found = (shape, fingerprint(shape))
        if type(statement) is str and len(statement) <= 8192:
            if len(known) >= self._size:
                known.clear()
            known[statement] = found
        return found


def _text_of(statement: object) -> str:
    text = getattr(statement, "text", None)
    if isinstance(text, str):
        return text
    as_string = getattr(statement, "as_string", None)
    if callable(as_string):
        try:
            value = as_string(None)
            if isinstance(value, str):
                return value
        except Exception:  # noqa: S110 - a composed statement that needs a connection to render
            pass
    return f"<{type(statement).__name__}>"
