"""Line diffs, agent-reported patches and the replay of line origins (hypothesis where it fits)."""

from __future__ import annotations

import difflib
import re

from hypothesis import given
from hypothesis import strategies as st

from codewitness.capture.checkpoint import (
    Label,
    Step,
    added_ranges,
    apply_hunks,
    carry,
    diff_hunks,
    hunks_from_structured_patch,
    pair_lines,
    removed_ranges,
    replay,
    split_lines,
)

texts = st.lists(st.sampled_from(["a", "b", "c", "", "def f():", "    return 1", "x = 2"]), max_size=12)
_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _structured(old: list[str], new: list[str], context: int) -> list[dict[str, object]]:
    """A Claude-style structuredPatch built from difflib's unified diff."""
    hunks: list[dict[str, object]] = []
    for line in difflib.unified_diff(old, new, n=context, lineterm=""):
        match = _HEADER.match(line)
        if match:
            hunks.append(
                {
                    "oldStart": int(match.group(1)),
                    "oldLines": int(match.group(2) or 1),
                    "newStart": int(match.group(3)),
                    "newLines": int(match.group(4) or 1),
                    "lines": [],
                }
            )
        elif hunks and line[:1] in (" ", "-", "+") and not line.startswith(("---", "+++")):
            hunks[-1]["lines"].append(line)  # type: ignore[attr-defined]
    return hunks


def test_split_lines_counts_as_git_does() -> None:
    assert split_lines("") == []
    assert split_lines("a\nb") == ["a", "b"]
    assert split_lines("a\r\nb\n") == ["a", "b"]
    assert split_lines("a\n\n") == ["a", ""]
    assert split_lines("a\x0cb\n") == ["a\x0cb"]  # only \n ends a line


def test_ranges_of_a_simple_edit() -> None:
    hunks = diff_hunks(["a", "b", "c"], ["a", "B", "B2", "c"])
    assert added_ranges(hunks) == ((2, 3),)
    assert removed_ranges(hunks) == ((2, 2),)


@given(texts, texts)
def test_diff_hunks_reproduce_the_new_text(old: list[str], new: list[str]) -> None:
    assert apply_hunks(old, new, diff_hunks(old, new))


@given(texts, texts, st.integers(0, 3))
def test_structured_patch_is_read_exactly(old: list[str], new: list[str], context: int) -> None:
    hunks = hunks_from_structured_patch(_structured(old, new, context), new)
    assert hunks is not None
    assert apply_hunks(old, new, hunks)
    added = sum(1 for line in _structured(old, new, context) for text in line["lines"] if text[0] == "+")  # type: ignore[attr-defined]
    assert sum(b - a + 1 for a, b in added_ranges(hunks)) == added


def test_structured_patch_that_disagrees_with_the_file_is_refused() -> None:
    patch = [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 1, "lines": ["-a", "+z"]}]
    assert hunks_from_structured_patch(patch, ["y"]) is None
    assert hunks_from_structured_patch("not a list", ["y"]) is None
    assert hunks_from_structured_patch([{"oldStart": True, "newStart": 1, "lines": []}], ["y"]) is None


def test_replay_labels_ai_mixed_human_and_base() -> None:
    start = ["import os", "", "def f():", "    pass"]
    after = ["import os", "", "def f():", "    x = 1", "    return x"]
    step = Step(start, after, ((4, 5),), "gen_a")
    final = ["#!/usr/bin/env python3", "import os", "", "def f():", "    x = 2", "    return x"]
    labels = replay(start, [step], final)
    assert [label.kind for label in labels] == ["human", "base", "base", "base", "mixed", "ai"]
    assert labels[5] == Label("ai", ("gen_a",))
    assert labels[4].generations == ("gen_a",)


def test_later_agent_edit_takes_over_earlier_lines() -> None:
    one = Step([], ["a = 1", "b = 2"], ((1, 2),), "gen_1")
    two = Step(["a = 1", "b = 2"], ["a = 1", "b = 3"], ((2, 2),), "gen_2")
    labels = replay([], [one, two], ["a = 1", "b = 3"])
    assert labels == [Label("ai", ("gen_1",)), Label("ai", ("gen_2",))]


def test_human_edit_between_agent_edits_is_human() -> None:
    one = Step([], ["a = 1"], ((1, 1),), "gen_1")
    two = Step(["a = 1", "human = True"], ["a = 1", "human = True", "c = 3"], ((3, 3),), "gen_2")
    labels = replay([], [one, two], ["a = 1", "human = True", "c = 3"])
    assert [label.kind for label in labels] == ["ai", "human", "ai"]


@given(start=texts, written=texts, final=texts)
def test_an_ai_label_always_means_the_agents_verbatim_text(
    start: list[str], written: list[str], final: list[str]
) -> None:
    ai_lines = added_ranges(diff_hunks(start, written))
    labels = replay(start, [Step(start, written, ai_lines, "gen_x")], final)
    assert len(labels) == len(final)
    agent_text = {written[i - 1] for a, b in ai_lines for i in range(a, b + 1)}
    for text, label in zip(final, labels, strict=True):
        if label.kind == "ai":
            assert text in agent_text
        if label.kind == "base":
            assert text in start


@given(texts, texts)
def test_pair_lines_pairs_every_new_line_in_order(old: list[str], new: list[str]) -> None:
    pairs = pair_lines(old, new)
    assert len(pairs) == len(new)
    indexes = [i for i, _ in pairs if i is not None]
    assert indexes == sorted(set(indexes))  # each old line at most once, in order
    for (index, same), line in zip(pairs, new, strict=True):
        if same:
            assert index is not None and old[index] == line
    # Unchanged lines are exactly the ones the diff leaves alone.
    unchanged = sum(1 for _, same in pairs if same)
    assert unchanged == len(new) - sum(b - a + 1 for a, b in added_ranges(diff_hunks(old, new)))


@given(texts, texts)
def test_pair_lines_is_the_pairing_carry_uses(old: list[str], new: list[str]) -> None:
    labels = [Label("ai", (f"g{i}",)) for i in range(len(old))]
    carried = carry(labels, old, new)
    for (index, same), label in zip(pair_lines(old, new), carried, strict=True):
        if same:
            assert label == labels[index]  # type: ignore[index]
        elif index is not None:
            assert label == Label("mixed", labels[index].generations)
        else:
            assert label == Label("human")


def test_line_ends_are_dropped_whatever_the_line_length() -> None:
    assert split_lines("ab\r\ncd\r\ne") == ["ab", "cd", "e"]
    assert split_lines("one\n\ntwo\n") == ["one", "", "two"]


def test_hunks_that_do_not_turn_old_into_new_are_refused() -> None:
    """Each condition of apply_hunks on its own (an agent-reported hunk is checked before it is used)."""
    assert apply_hunks(["a", "b"], ["a", "B"], [(1, 2, 1, 2)])
    assert not apply_hunks(["a"], ["b"], [])  # same length, other text
    assert not apply_hunks(["a", "b"], ["z", "B"], [(1, 2, 1, 2)])  # the unchanged stretch before differs
    # A hunk that ends before it starts, on either side, though everything else would line up.
    assert not apply_hunks(["x", "y"], ["x", "p", "q", "x", "y"], [(1, 0, 1, 3)])
    assert not apply_hunks(["x", "p", "q", "x", "y"], ["x", "y"], [(1, 3, 1, 0)])


def test_a_pure_insertion_removes_nothing_and_a_pure_deletion_adds_nothing() -> None:
    insertion, deletion = (1, 1, 1, 3), (2, 4, 2, 2)
    assert added_ranges([insertion, deletion]) == ((2, 3),)
    assert removed_ranges([insertion, deletion]) == ((3, 4),)
