"""Checkpoints: which lines one agent edit wrote, and how line origins travel to a commit.

An agent edit is known by the file's text before and after it. The lines it wrote are the
changed lines of a line diff of the two snapshots, or the exact patch the agent reports
(Claude Code's ``structuredPatch``, Cursor's ranges) once that patch is checked against the
snapshots. Nothing here ever searches a file for the text an agent produced.

At commit time :func:`replay` walks a file through its states — the text before the first
agent edit, each agent edit, the human edits between them, the committed text — and carries
a :class:`Label` per line: ``ai`` (as an agent wrote it), ``mixed`` (an AI line a human then
changed), ``human`` (inserted by a person) or ``base`` (there before the agents started).

Standard library only: the agent hook imports this module on its fast path.

Example:
    >>> hunks = diff_hunks(["a", "b"], ["a", "B", "c"])
    >>> hunks
    ((1, 2, 1, 3),)
    >>> added_ranges(hunks)
    ((2, 3),)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

from codewitness.capture._lean import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Hunk",
    "Label",
    "Step",
    "added_ranges",
    "apply_hunks",
    "before_from_structured_patch",
    "carry",
    "compact_lines",
    "diff_hunks",
    "hunks_from_structured_patch",
    "pair_lines",
    "removed_ranges",
    "replay",
    "split_lines",
]

#: One change, 0-based and half-open: old lines ``[a0, a1)`` became new lines ``[b0, b1)``.
Hunk = tuple[int, int, int, int]

BASE = "base"


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as git numbers them: split at ``\\n``, line ends dropped.

    ``"a\\r\\nb\\n"`` -> ``["a", "b"]``; a missing final newline does not add a line.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _opcodes(old: Sequence[str], new: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes of a line diff, with the common head and tail of the texts set aside first.

    An edit usually touches a few lines of a long file; matching only the middle keeps the hook
    fast and gives the same changed regions.
    """
    head = 0
    limit = min(len(old), len(new))
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    import difflib  # only after-hooks and commit linking diff; before-hooks skip this import

    middle = difflib.SequenceMatcher(None, old[head : len(old) - tail], new[head : len(new) - tail], autojunk=False)
    codes = [("equal", 0, head, 0, head)] if head else []
    codes += [(tag, a0 + head, a1 + head, b0 + head, b1 + head) for tag, a0, a1, b0, b1 in middle.get_opcodes()]
    if tail:
        codes.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    return codes


def diff_hunks(old: Sequence[str], new: Sequence[str]) -> tuple[Hunk, ...]:
    """The changed regions of a line diff of ``old`` and ``new`` (difflib, no junk heuristic)."""
    return tuple((a0, a1, b0, b1) for tag, a0, a1, b0, b1 in _opcodes(old, new) if tag != "equal")


def pair_lines(old: Sequence[str], new: Sequence[str]) -> list[tuple[int | None, bool]]:
    """For each line of ``new``, the 0-based index of the ``old`` line it came from and whether it is unchanged.

    Unchanged lines pair with their old line (``(i, True)``); in a replaced stretch the k-th new
    line pairs with the k-th old one (``(i, False)``); inserted lines pair with nothing
    (``(None, False)``). The same pairing as :func:`carry`.

    >>> pair_lines(["a", "b", "c"], ["a", "B", "x", "c"])
    [(0, True), (1, False), (None, False), (2, True)]
    """
    pairs: list[tuple[int | None, bool]] = []
    for tag, a0, a1, b0, b1 in _opcodes(old, new):
        if tag == "equal":
            pairs.extend((a0 + k, True) for k in range(b1 - b0))
            continue
        for k in range(b1 - b0):
            pairs.append((a0 + k, False) if tag == "replace" and a0 + k < a1 else (None, False))
    return pairs


def compact_lines(lines: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """``[5, 1, 2]`` -> ``((1, 2), (5, 5))``: the 1-based line numbers as merged inclusive spans.

    (:func:`codewitness.attribution.notes.compact_lines` does the same for notes; this copy keeps
    the hook's import path free of the notes module and its git helpers.)
    """
    ordered = sorted(set(lines))
    starts = [n for i, n in enumerate(ordered) if i == 0 or ordered[i - 1] != n - 1]
    ends = [n for i, n in enumerate(ordered) if i == len(ordered) - 1 or ordered[i + 1] != n + 1]
    return tuple(zip(starts, ends, strict=True))


def added_ranges(hunks: Iterable[Hunk]) -> tuple[tuple[int, int], ...]:
    """The 1-based inclusive spans of new lines the hunks wrote."""
    return tuple((b0 + 1, b1) for _, _, b0, b1 in hunks if b1 > b0)


def removed_ranges(hunks: Iterable[Hunk]) -> tuple[tuple[int, int], ...]:
    """The 1-based inclusive spans of old lines the hunks replaced or deleted."""
    return tuple((a0 + 1, a1) for a0, a1, _, _ in hunks if a1 > a0)


def apply_hunks(old: Sequence[str], new: Sequence[str], hunks: Sequence[Hunk]) -> bool:
    """True when ``hunks`` turn ``old`` into ``new`` (unchanged stretches equal, in order)."""
    a = b = 0
    for a0, a1, b0, b1 in hunks:
        if a0 < a or b0 < b or a1 < a0 or b1 < b0 or a0 - a != b0 - b:
            return False
        if list(old[a:a0]) != list(new[b:b0]):
            return False
        a, b = a1, b1
    return len(old) - a == len(new) - b and list(old[a:]) == list(new[b:])


def hunks_from_structured_patch(patch: Any, after: Sequence[str]) -> tuple[Hunk, ...] | None:
    """Exact hunks from a unified-diff style patch (Claude Code's ``structuredPatch``).

    Each hunk is ``{"oldStart", "oldLines", "newStart", "newLines", "lines"}`` where ``lines``
    are prefixed ``" "``, ``"-"`` or ``"+"``. Hunk starts are read from the side that has lines
    (tools disagree on where an empty side "starts"); the other side follows from the changes
    before it. The result is only returned when every context and added line agrees with the
    ``after`` snapshot at the position the patch gives; otherwise ``None`` (the caller then
    diffs snapshots instead).
    """
    read = _read_structured_patch(patch, after)
    return None if read is None else tuple(hunk for hunk, _ in read)


def before_from_structured_patch(patch: Any, after: Sequence[str]) -> list[str] | None:
    """The lines before the edit, rebuilt from ``after`` and the patch's removed lines.

    ``None`` when the patch does not agree with ``after`` (see :func:`hunks_from_structured_patch`).
    """
    read = _read_structured_patch(patch, after)
    if read is None:
        return None
    before: list[str] = []
    at = 0
    for (_, _, b0, b1), removed in read:
        before.extend(after[at:b0])
        before.extend(removed)
        at = b1
    before.extend(after[at:])
    return before


def _read_structured_patch(patch: Any, after: Sequence[str]) -> list[tuple[Hunk, list[str]]] | None:
    """The patch's changes with the old lines each replaced, checked against ``after``."""
    if not isinstance(patch, list):
        return None
    hunks: list[tuple[Hunk, list[str]]] = []
    offset = 0  # old position - new position, from the hunks read so far
    for raw in patch:
        if not isinstance(raw, Mapping):
            return None
        old_start, new_start, lines = raw.get("oldStart"), raw.get("newStart"), raw.get("lines")
        if not (isinstance(old_start, int) and isinstance(new_start, int) and isinstance(lines, list)):
            return None
        if isinstance(old_start, bool) or isinstance(new_start, bool):
            return None
        if not all(isinstance(line, str) and line[:1] in (" ", "-", "+", "\\") for line in lines):
            return None
        body = [line for line in lines if line[0] != "\\"]  # drop "\\ No newline at end of file"
        new_count = sum(1 for line in body if line[0] != "-")
        if new_count:
            b = new_start - 1
            a = b + offset
        else:
            a = old_start - 1
            b = a - offset
        if a < 0 or b < 0:
            return None
        run: list[int] | None = None  # [a0, a1, b0, b1] of the change being read
        removed: list[str] = []
        for line in body:
            mark, text = line[0], line[1:]
            if mark == " ":
                if run is not None:
                    hunks.append(((run[0], run[1], run[2], run[3]), removed))
                    run, removed = None, []
                if b >= len(after) or after[b] != text:
                    return None
                a, b = a + 1, b + 1
                continue
            if run is None:
                run = [a, a, b, b]
            if mark == "-":
                a += 1
                run[1] = a
                removed.append(text)
            else:
                if b >= len(after) or after[b] != text:
                    return None
                b += 1
                run[3] = b
        if run is not None:
            hunks.append(((run[0], run[1], run[2], run[3]), removed))
        offset = a - b
    for ((_, pa1, _, pb1), _), ((na0, _, nb0, _), _) in itertools.pairwise(hunks):
        if na0 < pa1 or nb0 < pb1:
            return None
    return hunks


class Label(NamedTuple):
    """Who wrote one line so far: ``kind`` plus the generations behind an ``ai``/``mixed`` line."""

    kind: str
    generations: tuple[str, ...] = ()


BASE_LABEL = Label(BASE)
HUMAN_LABEL = Label("human")


class Step(NamedTuple):
    """One agent edit of one file, as :func:`replay` consumes it.

    Attributes:
        before: the file's lines just before the edit (``None``: same as after the previous step).
        after: the file's lines just after the edit.
        ai_lines: 1-based spans of ``after`` the agent wrote.
        generation: the generation id of the edit.
    """

    before: Sequence[str] | None
    after: Sequence[str]
    ai_lines: tuple[tuple[int, int], ...]
    generation: str


def carry(labels: list[Label], old: Sequence[str], new: Sequence[str]) -> list[Label]:
    """Labels of ``new`` when a person (or git) turned ``old`` into ``new``.

    Unchanged lines keep their label. In a replaced stretch the k-th new line pairs with the
    k-th old line: an AI line changed this way becomes ``mixed``; anything else is ``human``.
    """
    result: list[Label] = []
    for tag, a0, a1, b0, b1 in _opcodes(old, new):
        if tag == "equal":
            result.extend(labels[a0:a1])
            continue
        for k in range(b1 - b0):
            paired = labels[a0 + k] if tag == "replace" and a0 + k < a1 else None
            if paired is not None and paired.kind in ("ai", "mixed"):
                result.append(Label("mixed", paired.generations))
            else:
                result.append(HUMAN_LABEL)
    return result


def replay(start: Sequence[str], steps: Sequence[Step], final: Sequence[str]) -> list[Label]:
    """Carry line origins from ``start`` through agent ``steps`` to the ``final`` text.

    Args:
        start: the file's lines before the first step (all labelled ``base``).
        steps: the agent edits in the order they happened.
        final: the file's lines as committed.

    Returns:
        One :class:`Label` per line of ``final``.
    """
    current = list(start)
    labels = [BASE_LABEL] * len(current)
    for step in steps:
        before = list(step.before) if step.before is not None else current
        if before != current:  # a person edited the file between two agent edits
            labels = carry(labels, current, before)
        after = list(step.after)
        labels = carry(labels, before, after)
        ai = Label("ai", (step.generation,))
        for first, last in step.ai_lines:
            for index in range(max(first, 1) - 1, min(last, len(after))):
                labels[index] = ai
        current = after
    if list(final) != current:
        labels = carry(labels, current, final)
    return labels
