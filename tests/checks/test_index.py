"""The package index client against a real loopback index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codewitness.checks.index import DEFAULT_PYPI, IndexCache, IndexClient, npm_registry_url, pip_index_url


def client(server, tmp_path: Path, **kw) -> IndexClient:
    return IndexClient(server.simple, server.npm, cache=IndexCache(tmp_path / "cache.json"), timeout=5, **kw)


def test_existing_package_has_age_versions_and_status(index_server, tmp_path):
    info = client(index_server, tmp_path).pypi("Requests")
    assert info.state == "exists"
    assert info.versions == 3 and info.latest == "2.32.3"
    assert info.status == "active" and not info.all_yanked
    assert info.age_days() > 3000
    assert index_server.requests == ["/simple/requests/"]


def test_missing_new_single_quarantined_archived(index_server, tmp_path):
    c = client(index_server, tmp_path)
    assert c.pypi("no-such-thing").state == "missing"
    assert c.pypi("freshpkg").age_days() < 10
    assert c.pypi("lonely").versions == 1
    evil = c.pypi("evilpkg")
    assert evil.state == "exists" and evil.status == "quarantined"
    assert c.pypi("oldstuff").status == "archived"


def test_npm_metadata_and_scoped_names(index_server, tmp_path):
    c = client(index_server, tmp_path)
    pad = c.npm("left-pad")
    assert pad.state == "exists" and pad.status == "deprecated" and pad.versions == 2
    assert c.npm("@scope/tool").state == "exists"
    assert c.npm("leftpadx-missing").state == "missing"
    assert c.npm("brand-new-npm").age_days() < 5


def test_unreachable_index_is_not_checked_never_clean(tmp_path):
    c = IndexClient("http://127.0.0.1:9/simple", "http://127.0.0.1:9/npm", timeout=1)
    info = c.pypi("requests")
    assert info.state == "not_checked" and "unreachable" in info.reason
    assert c.npm("express").state == "not_checked"


def test_server_error_is_not_checked_and_not_cached(index_server, tmp_path):
    index_server.down = True
    c = client(index_server, tmp_path)
    assert c.pypi("requests").state == "not_checked"
    c.cache.save()
    index_server.down = False
    assert client(index_server, tmp_path).pypi("requests").state == "exists"


def test_cache_is_reused_and_offline_uses_it_only(index_server, tmp_path):
    c = client(index_server, tmp_path)
    c.lookup_many([("pypi", "requests"), ("npm", "express"), ("pypi", "nope-nope")])
    c.cache.save()
    before = len(index_server.requests)
    again = client(index_server, tmp_path)
    assert again.pypi("requests").from_cache
    assert again.pypi("nope-nope").state == "missing"  # a 404 is an answer worth caching
    assert len(index_server.requests) == before
    offline = IndexClient(index_server.simple, None, cache=IndexCache(tmp_path / "cache.json"), offline=True)
    assert offline.pypi("requests").state == "exists"
    assert len(index_server.requests) == before
    unknown = offline.pypi("flask")
    assert unknown.state == "not_checked" and "offline" in unknown.reason


def test_stale_cache_entries_are_fetched_again(index_server, tmp_path):
    c = client(index_server, tmp_path)
    c.pypi("requests")
    c.cache.save()
    stale = IndexClient(index_server.simple, None, cache=IndexCache(tmp_path / "cache.json", max_age_hours=0))
    assert not stale.pypi("requests").from_cache


def test_corrupt_cache_file_is_ignored(index_server, tmp_path):
    (tmp_path / "cache.json").write_text("{not json")
    assert client(index_server, tmp_path).pypi("requests").state == "exists"


def test_vulnerabilities_from_json_api(index_server, tmp_path):
    c = client(index_server, tmp_path)
    vulns = c.vulnerabilities("django", "4.2.0")
    assert vulns and vulns[0]["id"] == "PYSEC-2099-1" and vulns[0]["fixed_in"] == ["4.2.1"]
    assert c.vulnerabilities("django", "5.0.0") == []


def test_a_version_the_index_does_not_know_is_asked_about_once(index_server, tmp_path):
    # Before: a 404 was not cached, so every warm `check` asked again (datasette pins five versions
    # PyPI's JSON API does not know: 0.3 s of every warm run).
    c = client(index_server, tmp_path)
    assert c.vulnerabilities("nope-nope", "1.0") is None  # the JSON API answers 404
    assert c.vulnerabilities("django", "4.2.0")
    c.cache.save()
    before = len(index_server.requests)
    again = client(index_server, tmp_path)
    assert again.vulnerabilities("nope-nope", "1.0") is None
    assert again.vulnerabilities("django", "4.2.0")  # a known version, cached with its findings
    assert len(index_server.requests) == before


def test_pip_index_url_honours_env_and_config(tmp_path):
    assert (
        pip_index_url({"PIP_INDEX_URL": "http://mirror.invalid/simple", "HOME": str(tmp_path)})
        == "http://mirror.invalid/simple"
    )
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = http://a.invalid/simple\n[install]\nindex-url = http://b.invalid/simple\n")
    env = {"HOME": str(tmp_path), "PIP_CONFIG_FILE": str(conf), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    assert pip_index_url(env) == "http://b.invalid/simple"
    assert pip_index_url({"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "none")}) == DEFAULT_PYPI


def test_npm_registry_from_npmrc(tmp_path):
    (tmp_path / ".npmrc").write_text("registry=http://npm.invalid/\n")
    assert npm_registry_url(tmp_path, {"HOME": str(tmp_path)}) == "http://npm.invalid/"
    assert npm_registry_url(tmp_path, {"npm_config_registry": "http://env.invalid/"}) == "http://env.invalid/"


def test_npms_own_answer_is_cached_with_the_index_answers(tmp_path, monkeypatch):
    # Before: every `check` of a repository with a package.json started npm (a third of a second)
    # to learn its default registry. Here npm is the real one, started through a script that logs.
    import shutil

    real = shutil.which("npm")
    if real is None:
        pytest.skip("npm is not installed")
    bin_dir, log = tmp_path / "bin", tmp_path / "npm.log"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    env = {"HOME": str(tmp_path)}
    first = IndexCache(tmp_path / "cache.json")
    registry = npm_registry_url(tmp_path, env, cache=first)
    assert registry and registry.startswith("https://")
    first.save()
    assert npm_registry_url(tmp_path, env, cache=IndexCache(tmp_path / "cache.json")) == registry
    assert log.read_text().splitlines() == ["config get registry"]
    assert npm_registry_url(tmp_path, env, cache=IndexCache(tmp_path / "cache.json", max_age_hours=0)) == registry
    assert len(log.read_text().splitlines()) == 2, "a stale answer is asked again"


def test_many_vulnerability_lookups_answer_as_one_at_a_time_and_ask_each_once(index_server, tmp_path):
    wanted = [("django", "4.2.0"), ("django", "5.0.0"), ("nope-nope", "1.0"), ("requests", "2.32.3")]
    one_by_one = {key: client(index_server, tmp_path / "a").vulnerabilities(*key) for key in wanted}
    index_server.requests.clear()
    c = client(index_server, tmp_path / "b")
    assert c.vulnerabilities_many([*wanted, ("django", "4.2.0")]) == one_by_one
    assert sorted(index_server.requests) == sorted(set(index_server.requests)) and len(index_server.requests) == 4
    c.cache.save()
    index_server.requests.clear()
    assert client(index_server, tmp_path / "b").vulnerabilities_many(wanted) == one_by_one  # from the cache
    assert index_server.requests == []


def test_the_index_threads_share_one_url_opener(index_server, tmp_path):
    # urlopen makes its opener on first use without a lock: eight threads made eight, each loading the
    # system's certificates. The client's opener is made once, whichever thread asks first.
    import threading

    from codewitness.checks import index

    index._OPENERS.clear()
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        seen.append(index._opener())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and len({id(o) for o in seen}) == 1
    c = client(index_server, tmp_path)
    c.lookup_many([("pypi", "requests"), ("pypi", "django"), ("pypi", "lonely"), ("pypi", "nope-nope")])
    assert len(index._OPENERS) == 1 and index._opener() is seen[0]
