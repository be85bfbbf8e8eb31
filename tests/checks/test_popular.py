"""The popular-names ranking: fetching one (a real HTTP server on loopback), writing and reading snapshots,
and typosquat detection without its extra. Each test here kills mutants the mutation run found alive
(``scripts/mutation popular``): the request's headers and time limit, every error message, the snapshot's
file mode and UTC date, and header and column parsing."""

from __future__ import annotations

import json
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codewitness.checks.popular import (
    PopularNames,
    fetch_ranking,
    kept_path,
    load_popular,
    refreshed_path,
    write_snapshot,
)
from codewitness.errors import InputError, MissingExtraError

#: What the loopback ranking server answers, by path (anything else: 404), and the headers it saw.
BODIES = {
    "/top.json": json.dumps({"rows": [{"project": "requests"}, {"project": "boto3"}]}),
    "/broken.json": "not json",
    "/empty.json": json.dumps({"rows": []}),
}
SEEN: list[dict[str, str]] = []


class _Ranking(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append(dict(self.headers))
        body = BODIES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write((body or "").encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ranking_url() -> Iterator[str]:
    SEEN.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ranking)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_ranking_is_fetched_asking_for_json(ranking_url: str) -> None:
    assert fetch_ranking(f"{ranking_url}/top.json") == ["requests", "boto3"]
    (headers,) = SEEN
    assert headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/broken.json", "{url} is not a ranking: expected JSON with rows of {{'project': name}}"),
        ("/empty.json", "{url} holds an empty ranking; keeping the current snapshot"),
        ("/missing.json", "cannot fetch the ranking from {url}: Not Found"),
    ],
)
def test_each_bad_ranking_has_its_own_message(ranking_url: str, path: str, says: str) -> None:
    url = f"{ranking_url}{path}"
    with pytest.raises(InputError) as caught:
        fetch_ranking(url)
    assert str(caught.value) == says.format(url=url)


def test_an_unreachable_ranking_names_the_url_and_the_reason() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/top.json"
    with pytest.raises(InputError) as caught:
        fetch_ranking(url)
    assert str(caught.value) == f"cannot fetch the ranking from {url}: [Errno 111] Connection refused"


def test_a_ranking_server_that_never_answers_is_given_up_after_the_time_limit() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts the connection, never answers
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/top.json"
        with pytest.raises(InputError) as caught:
            fetch_ranking(url, timeout=0.3)
    assert str(caught.value) == f"cannot fetch the ranking from {url}: timed out"


def test_only_http_and_https_urls_are_fetched(ranking_url: str) -> None:
    with pytest.raises(InputError) as caught:
        fetch_ranking("file:///etc/passwd")
    assert str(caught.value) == "ranking URL must be http(s), got 'file:///etc/passwd'"
    # https passes the check (and fails here only because the loopback server speaks plain HTTP).
    url = ranking_url.replace("http://", "https://") + "/top.json"
    with pytest.raises(InputError) as caught:
        fetch_ranking(url)
    assert str(caught.value).startswith(f"cannot fetch the ranking from {url}: ")


def test_a_snapshot_is_private_and_dated_in_utc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # In a time zone whose date differs from UTC's now, the snapshot still carries UTC's date.
    # (In this process, not a child: the mutation run switches mutants in the process it tests.)
    zone = "Etc/GMT-14" if datetime.now(UTC).hour >= 10 else "Etc/GMT+12"  # UTC+14 / UTC-12
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert datetime.now().date() != datetime.now(UTC).date()  # the zone does what it is chosen for
        before = datetime.now(UTC).date().isoformat()
        write_snapshot(refreshed_path(tmp_path), ["requests"], "test")
        after = datetime.now(UTC).date().isoformat()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert load_popular(tmp_path).date in {before, after}
    assert stat.S_IMODE(refreshed_path(tmp_path).stat().st_mode) == 0o600


def test_snapshot_headers_and_columns_are_read_as_written_by_hand(tmp_path: Path) -> None:
    path = refreshed_path(tmp_path)
    path.parent.mkdir(parents=True)
    # A header without the space after '#'; a key without a value is not a header; a ranking with
    # a downloads column after the name; a line whose fields are not tab-separated is damaged.
    path.write_text("#source:hand-made\n# date\nrank\tname\tdownloads\n1\trequests\t900\n2\tboto3\t800\n3 flask\n")
    popular = load_popular(tmp_path)
    assert (popular.source, popular.date) == ("hand-made", "unknown")
    assert popular.ranks == {"requests": 1, "boto3": 2}


def test_typosquat_detection_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)  # as if the check extra were not installed
    with pytest.raises(MissingExtraError) as caught:
        PopularNames({"requests": 1}, "s", "d").closest("requestz")
    assert caught.value.extra == "check"
    assert str(caught.value).startswith('Typosquat detection needs the "check" extra: ')


def test_the_shipped_names_are_kept_read_in_the_project_cache(tmp_path: Path) -> None:
    """Reading the 15,000 shipped names costs a warm run more than anything else on a small project: they are
    kept, read, in ``.codewitness/cache/popular.json`` and read from there while the snapshot file is the same."""
    first = load_popular(tmp_path)
    assert kept_path(tmp_path).is_file()
    assert stat.S_IMODE(kept_path(tmp_path).stat().st_mode) == 0o600
    shipped = load_popular()
    assert (first.ranks, first.source, first.date) == (shipped.ranks, shipped.source, shipped.date)
    kept = json.loads(kept_path(tmp_path).read_text())
    kept["ranks"]["only-in-the-kept-copy"] = 1
    kept_path(tmp_path).write_text(json.dumps(kept))
    again = load_popular(tmp_path)
    assert again.rank("only-in-the-kept-copy") == 1  # read from the copy, not parsed again
    assert again.closest("reqeusts") == shipped.closest("reqeusts")


def test_a_changed_snapshot_is_read_again_and_a_broken_copy_is_replaced(tmp_path: Path) -> None:
    write_snapshot(refreshed_path(tmp_path), ["requests", "boto3"], "first")
    assert load_popular(tmp_path).ranks == {"requests": 1, "boto3": 2}
    write_snapshot(refreshed_path(tmp_path), ["numpy", "requests", "boto3"], "second")  # another size
    assert load_popular(tmp_path).ranks == {"numpy": 1, "requests": 2, "boto3": 3}
    assert load_popular(tmp_path).source == "second"
    kept_path(tmp_path).write_text("{not json")
    assert load_popular(tmp_path).rank("numpy") == 1
    assert json.loads(kept_path(tmp_path).read_text())["ranks"]["numpy"] == 1


def test_closest_names_are_kept_with_the_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which popular name a package imitates depends on the ranking and the name alone: kept with the kept snapshot,
    a later run answers the names it saw before without loading rapidfuzz (its import is a small project's
    biggest single cost of checking packages)."""
    shipped = load_popular()
    asked = ["reqeusts", "flask-sqlalchemy2", "no-such-package-anywhere", "requests"]
    first = load_popular(tmp_path)
    answers = [first.closest(name) for name in asked]
    assert answers == [shipped.closest(name) for name in asked]
    assert answers[0] is not None and answers[0].name == "requests" and answers[2] is None
    first.keep()
    kept = json.loads(kept_path(tmp_path).read_text())["near"]
    assert kept["reqeusts"] == ["requests", answers[0].rank, "swapped"] and kept["no-such-package-anywhere"] is None
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)  # as if it could not be loaded
    again = load_popular(tmp_path)
    assert [again.closest(name) for name in asked] == answers
    with pytest.raises(MissingExtraError):
        again.closest("a-name-never-asked")  # a new name still needs it
