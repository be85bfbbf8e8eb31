"""The read-only sqlite3 look into a store: only a current SQLite store, read exactly as the full store reads it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from codewitness._git import BlameRow, CommitInfo
from codewitness.attribution.cache import encode_blame
from codewitness.attribution.storecache import store_cache
from codewitness.store import lite, open_store, schema


def test_only_a_current_sqlite_file_is_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert lite.open_readonly(url) is None  # no file yet: the store makes it
    assert lite.open_readonly("postgresql://u@127.0.0.1:1/db") is None
    assert lite.open_readonly(f"{url}?mode=ro") is None
    assert lite.open_readonly("sqlite:///:memory:") is None
    open_store(url).close()
    conn = lite.open_readonly(url)
    assert conn is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM attr_commit")
    conn.close()
    with closing(sqlite3.connect(tmp_path / "w.db")) as raw, raw:
        raw.execute("INSERT INTO cw_migrations (id, applied_at) VALUES ('m9999_from_the_future', '2030-01-01')")
    assert lite.open_readonly(url) is None, "a newer schema is for the full store to refuse"
    with closing(sqlite3.connect(tmp_path / "w.db")) as raw, raw:
        raw.execute("DELETE FROM cw_migrations WHERE id IN ('m9999_from_the_future', 'm0006_invariants')")
    assert lite.open_readonly(url) is None, "a pending migration is for the full store to apply"
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert lite.open_readonly(f"sqlite:///{tmp_path / 'junk.db'}") is None


def test_rows_read_back_as_the_store_wrote_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with open_store(url) as store:
        cache = store_cache(store)
        cache.save_blames({("a.py", "b1"): [BlameRow("c" * 40, "a.py", 1)]})
        cache.save_blames({("a.py", "b1"): [BlameRow("d" * 40, "a.py", 2)]})  # newer row for the same key
        cache.save_blames({("b.py", "b1"): [BlameRow("e" * 40, "b.py", 1)]})  # same blob, another path
        cache.save_commits([CommitInfo("c" * 40, "A <a@x>", 1, "A <a@x>", "msg")])
        cache.save_blobs("spans", {"b1": [1, 2]})
        with store.read() as conn:
            assert len(conn.execute(schema.attr_blame.select()).all()) == 3
    conn = lite.open_readonly(url)
    assert conn is not None
    blames = lite.blame_rows(conn, [("a.py", "b1"), ("c.py", "b1"), ("a.py", "nope")])
    assert blames == {("a.py", "b1"): encode_blame([BlameRow("d" * 40, "a.py", 2)])}
    assert set(lite.commit_rows(conn, ["c" * 40, "f" * 40])) == {"c" * 40}
    assert lite.blob_rows(conn, "spans", ["b1"]) == {"b1": "[1, 2]"} and lite.blob_rows(conn, "other", ["b1"]) == {}
    many = [f"{i:040x}" for i in range(1000)]  # more keys than one statement may bind
    assert lite.commit_rows(conn, many) == {}
    conn.close()
