"""The small parsers and aggregations behind the metrics, on generated inputs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codewitness._git import PathCommit, parse_log_paths
from codewitness._syntax import check_syntax
from codewitness.attribution.trailers import generation_trailers
from codewitness.metrics.adherence import lexical_similarity
from codewitness.metrics.compute import percentile

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x1e"), max_size=40)
_name = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\x1e\n"), min_size=1, max_size=30)


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[0-9a-f]{40}", fullmatch=True),
            st.from_regex(r"2026-1[0-2]-[0-2][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\+00:00", fullmatch=True),
            _name,
            _name,
            st.lists(_name, min_size=1, max_size=3),
        ),
        max_size=5,
    )
)
def test_log_paths_output_reads_back(records: list[tuple[str, str, str, str, list[str]]]) -> None:
    # What `git log -z --format=%x1e%H%x00%cI%x00%an%x00%s --name-only` prints.
    text = "".join(
        f"\x1e{sha}\x00{when}\x00{author}\x00{subject}\n{chr(0).join(files)}\x00"
        for sha, when, author, subject, files in records
    )
    assert parse_log_paths(text) == [
        PathCommit(sha, when, author, subject, tuple(files)) for sha, when, author, subject, files in records
    ]


@given(st.lists(st.from_regex(r"gen_[0-9a-f]{20}", fullmatch=True), max_size=4), _text)
def test_generation_trailers_are_found_in_order_once(ids: list[str], body: str) -> None:
    message = (
        "Subject\n\n"
        + body.replace("odewitness", "")
        + "\n\n"
        + "".join(f"Codewitness-Generation: {g}\n" for g in ids + ids)
    )
    assert generation_trailers(message) == tuple(dict.fromkeys(ids))


@given(st.text(max_size=200), st.sampled_from(["a.py", "b.json", "c.toml", "d.txt", "e.pyi"]))
def test_check_syntax_never_raises(text: str, path: str) -> None:
    result = check_syntax(path, text)
    assert (result is None) == path.endswith(".txt")
    if result is not None and not result.ok:
        assert result.error and "\n" not in result.error


@given(st.text(max_size=120), st.text(max_size=120))
def test_lexical_similarity_is_a_share(prompt: str, code: str) -> None:
    assert 0.0 <= lexical_similarity(prompt, code) <= 1.0
    assert lexical_similarity(prompt, prompt) in (0.0, 1.0)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50), st.floats(min_value=0, max_value=100))
def test_percentile_is_an_observed_value_and_grows_with_q(values: list[float], q: float) -> None:
    found = percentile(values, q)
    assert found in values
    assert percentile(values, 100) == max(values)
    assert found <= percentile(values, min(100.0, q + 10))
