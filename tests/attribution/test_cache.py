"""The attribution cache: a re-run after one commit only blames what changed, on SQLite and PostgreSQL."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codewitness.attribution.blame import Attributor
from codewitness.attribution.cache import BlameRow, MemoryCache, decode_blame, encode_blame
from codewitness.attribution.report import build_report
from codewitness.attribution.storecache import store_cache
from codewitness.store import Store
from tests.imports import reaches

from .conftest import CLAUDE_TRAILER, Repo, lines


def _run(repo: Repo, cache: object) -> tuple[dict[str, int], dict[str, list[str]]]:
    with Attributor(repo.root, cache=cache) as engine:  # type: ignore[arg-type]
        kinds = {fa.path: [ln.origin.kind for ln in fa.lines] for fa in engine.attribute(engine.files())}
        return dict(engine.stats), kinds


def test_rerun_after_one_commit_only_blames_the_changed_file(repo: Repo, store: Store) -> None:
    for n in range(5):
        repo.write(f"m{n}.py", lines(3, f"v{n}_"))
    repo.commit("five files")
    cache = store_cache(store)
    stats, first = _run(repo, cache)
    assert stats["blamed"] == 5 and stats["cached"] == 0
    stats, again = _run(repo, cache)
    assert stats["blamed"] == 0 and stats["cached"] == 5
    assert again == first
    repo.write("m2.py", lines(4, "v2_"))
    repo.commit("agent adds a line" + CLAUDE_TRAILER)
    stats, after = _run(repo, cache)
    assert stats == {"blamed": 1, "cached": 4, "skipped": 0}
    assert after["m2.py"] == ["human", "human", "human", "ai"]


def test_one_file_attributed_alone_is_cached_too(repo: Repo) -> None:
    """``codewitness blame FILE`` goes through attribute_path: its blame must reach the cache."""
    repo.write("a.py", lines(3))
    repo.commit("one")
    cache = MemoryCache()
    with Attributor(repo.root, cache=cache) as engine:
        first = engine.attribute_path("a.py")
        assert engine.stats["blamed"] == 1
    assert len(cache.blames) == 1
    with Attributor(repo.root, cache=cache) as engine:
        assert engine.attribute_path("a.py") == first
        assert engine.stats == {"blamed": 0, "cached": 1, "skipped": 0}


def test_rewritten_history_is_not_served_from_cache(repo: Repo, store: Store) -> None:
    repo.write("a.py", lines(2))
    repo.commit("first")
    cache = store_cache(store)
    _run(repo, cache)
    # Rewrite the only commit: same content, but the old commit is no longer in the history.
    repo.git("commit", "-q", "--amend", "-m", "first, reworded" + CLAUDE_TRAILER)
    stats, kinds = _run(repo, cache)
    assert stats["blamed"] == 1
    assert kinds["a.py"] == ["ai", "ai"]


def test_report_reuses_cached_analysis(repo: Repo, store: Store) -> None:
    repo.write("a.py", "def f():\n    return 1\n")
    repo.commit("one" + CLAUDE_TRAILER)
    cache = store_cache(store)
    first = build_report(repo.root, cache=cache).to_dict()
    second = build_report(repo.root, cache=cache).to_dict()
    assert first == second
    assert first["functions"][0]["ai_share"] == 1.0


def test_commit_metadata_is_cached(repo: Repo) -> None:
    repo.write("a.py", lines(1))
    sha = repo.commit("hello" + CLAUDE_TRAILER)
    cache = MemoryCache()
    _run(repo, cache)
    assert "Co-Authored-By: Claude" in cache.commits[sha].message
    assert cache.commits[sha].author == "Dana Dev <dana@example.com>"


_rows = st.lists(
    st.builds(
        BlameRow,
        st.sampled_from(["a" * 40, "b" * 40, "c" * 40]),
        st.sampled_from(["x.py", "old/x.py", "dir with space/ü.py"]),
        st.integers(min_value=1, max_value=50),
    ),
    max_size=60,
)


@given(_rows)
def test_blame_encoding_round_trips(rows: list[BlameRow]) -> None:
    assert decode_blame(encode_blame(rows)) == rows


def test_the_cache_module_does_not_import_the_store_cache_back() -> None:
    # The store's cache builds on cache.py; cache.py (what the engine reads) never loads the store's.
    assert reaches("codewitness.attribution.storecache", "codewitness.attribution.cache")
    assert not reaches("codewitness.attribution.cache", "codewitness.attribution.storecache")


def test_the_history_of_a_revision_is_kept_only_when_asked(repo: Repo) -> None:
    """The merge gate keeps the commits known to be in HEAD's history in its cache (which keeps only what a run
    used); a cache that only grows (the store's, for reports) gets none, one list per revision reported."""
    repo.write("a.py", lines(2))
    head = repo.commit("one" + CLAUDE_TRAILER)
    growing = MemoryCache()
    _run(repo, growing)
    assert not [key for key in growing.blobs if key[0] == "history"]
    kept = MemoryCache()
    with Attributor(repo.root, cache=kept, keep_history=True) as engine:
        list(engine.attribute(engine.files()))
    assert kept.load_blobs("history", [head]) == {head: [head]}
