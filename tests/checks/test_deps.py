"""Dependency checks: manifest parsing, verdicts from a loopback index, undeclared imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codewitness.checks import CheckContext, run_checks
from codewitness.checks.deps import KEEP_PARSED_FROM, ask_ahead, parse_manifest, parse_manifest_kept
from codewitness.checks.index import IndexCache, IndexClient
from codewitness.checks.popular import load_popular


def test_requirements_parsing_skips_options_urls_and_comments():
    text = (
        "# deps\n-r base.txt\nrequests>=2  # http\nflask[async]==3.0.0 ; python_version>'3'\n"
        "git+https://x.invalid/a.git\n./local\nDjango===4.2.0\n"
    )
    got = [(d.name, d.line, d.pinned) for d in parse_manifest("requirements.txt", text)]
    assert got == [("requests", 3, None), ("flask", 4, "3.0.0"), ("Django", 7, "4.2.0")]


def test_pyproject_pep621_groups_and_poetry():
    text = """
[project]
name = "demo"
dependencies = ["requests>=2", "demo[extra]"]
[project.optional-dependencies]
web = ["flask"]
[dependency-groups]
dev = ["pytest", {include-group = "web"}]
[tool.poetry.dependencies]
python = "^3.11"
lonely = "1.0.0"
local = {path = "../local"}
[tool.poetry.group.test.dependencies]
hypothesis = "*"
"""
    got = {d.name: d.pinned for d in parse_manifest("pyproject.toml", text)}
    assert got == {"requests": None, "flask": None, "pytest": None, "lonely": "1.0.0", "hypothesis": None}


def test_locks_and_package_json():
    uv = (
        '[[package]]\nname = "requests"\nversion = "2.32.3"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        '[[package]]\nname = "demo"\nversion = "0.1"\nsource = { editable = "." }\n'
    )
    assert [(d.name, d.pinned) for d in parse_manifest("uv.lock", uv)] == [("requests", "2.32.3")]
    poetry = '[[package]]\nname = "flask"\nversion = "3.0.0"\n'
    assert [d.name for d in parse_manifest("poetry.lock", poetry)] == ["flask"]
    pipfile_lock = json.dumps({"default": {"requests": {"version": "==2.32.3"}}, "develop": {"x": {"path": "."}}})
    assert [(d.name, d.pinned) for d in parse_manifest("Pipfile.lock", pipfile_lock)] == [("requests", "2.32.3")]
    package_json = json.dumps(
        {
            "dependencies": {"express": "4.19.2", "mine": "file:../mine", "alias": "npm:@scope/tool@^1.0.0"},
            "devDependencies": {"left-pad": "^1"},
        }
    )
    got = [(d.ecosystem, d.name, d.pinned) for d in parse_manifest("package.json", package_json)]
    assert got == [("npm", "express", "4.19.2"), ("npm", "@scope/tool", None), ("npm", "left-pad", None)]


def test_broken_manifest_yields_nothing():
    assert parse_manifest("pyproject.toml", "[project\n") == []
    assert parse_manifest("package.json", "{") == []


@given(st.text(max_size=200))
def test_requirements_parser_never_crashes(text):
    for d in parse_manifest("requirements.txt", text):
        assert d.name and d.line >= 1


def _ctx(root: Path, server, **kw) -> CheckContext:
    ctx = CheckContext.build(root, **kw)
    ctx.index = IndexClient(
        server.simple, server.npm, cache=IndexCache(root / ".codewitness/cache/idx.json"), timeout=5
    )
    return ctx


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text(
        "requests==2.32.3\nfreshpkg\nlonely\nevilpkg\noldstuff\nreqeusts\nno-such-package-xyz\nDjango==4.2.0\n"
    )
    (root / "package.json").write_text(
        json.dumps(
            {
                "dependencies": {
                    "express": "4.19.2",
                    "brand-new-npm": "0.0.1",
                    "ghost-npm-pkg": "1.0.0",
                    "left-pad": "1.3.0",
                }
            }
        )
    )
    (root / "app.py").write_text("import requests\nimport fastjsonx\nimport yaml\nimport json\nfrom app2 import x\n")
    (root / "app2.py").write_text("x = 1\n")
    return root


def test_verdicts_from_loopback_index(project, index_server):
    report = run_checks(_ctx(project, index_server), families=("deps",))
    got = {(f.rule_id, f.properties.get("package")) for f in report.findings}
    assert ("CW102", "freshpkg") in got
    assert ("CW103", "lonely") in got
    assert ("CW104", "evilpkg") in got and ("CW104", "oldstuff") in got
    assert ("CW105", "reqeusts") in got
    assert ("CW101", "no-such-package-xyz") in got
    assert ("CW108", "Django") in got
    assert ("CW102", "brand-new-npm") in got and ("CW101", "ghost-npm-pkg") in got
    assert ("CW104", "left-pad") in got  # deprecated on npm
    assert ("CW101", "fastjsonx") in got  # imported, not installed, not on the index
    # requests is old, popular and well-versioned; yaml maps to PyYAML which exists: no complaint either.
    assert not {r for r, p in got if p == "requests"}
    by_pkg = {f.properties.get("package"): f for f in report.findings if f.rule_id == "CW101"}
    assert by_pkg["fastjsonx"].path == "app.py" and by_pkg["fastjsonx"].line == 2
    assert by_pkg["no-such-package-xyz"].line == 7
    explained = next(f for f in report.findings if f.rule_id == "CW102" and f.properties["package"] == "freshpkg")
    assert explained.properties["index"]["versions"] == 2 and explained.properties["index"]["first_upload"]


def test_undeclared_import_of_installed_distribution(project, index_server):
    (project / "app.py").write_text("import jsonschema\n")  # installed here, declared nowhere
    report = run_checks(_ctx(project, index_server), families=("deps",))
    assert any(f.rule_id == "CW106" and f.properties.get("module") == "jsonschema" for f in report.findings)


def test_unreachable_index_reports_not_checked_not_clean(project):
    ctx = CheckContext.build(project)
    ctx.index = IndexClient("http://127.0.0.1:9/simple", "http://127.0.0.1:9/npm", timeout=1)
    report = run_checks(ctx, families=("deps",))
    assert report.findings and {f.rule_id for f in report.findings} <= {"CW107", "CW105", "CW106"}
    assert sum(f.rule_id == "CW107" for f in report.findings) >= 10
    assert not report.failed("high")


def test_base_limits_to_added_dependencies(repo, index_server):
    from tests.checks.conftest import git

    (repo / "requirements.txt").write_text("evilpkg\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "deps")
    (repo / "requirements.txt").write_text("evilpkg\nno-such-package-xyz\n")
    report = run_checks(_ctx(repo, index_server, base="HEAD"), families=("deps",))
    assert {f.properties.get("package") for f in report.findings} == {"no-such-package-xyz"}


def test_typosquat_kinds():
    popular = load_popular()
    assert popular.closest("requests") is None
    assert popular.closest("requestss").kind == "repeated"
    assert popular.closest("reqests").kind == "omitted"
    assert popular.closest("python_dateutil") is None  # separators only: same project name under PEP 503
    assert popular.closest("pythondateutil").kind == "separators"
    assert popular.closest("zzqxjw-unrelated") is None
    assert popular.source.startswith("the public top-pypi-packages") and popular.date == "2026-11-22"


def test_install_commands_in_text():
    from codewitness.checks.deps import install_commands

    text = (
        "First `pip install -U requests fastjsonx==1.0`, then `npm i left-pad@1 @scope/x@2`.\n"
        "python -m pip install --index-url http://x.invalid/simple -r req.txt -e . pkg-a\n"
        "uv add 'httpx>=0.27'; poetry add reqeusts\nyarn add react  # ui\nI will install it later.\n"
    )
    assert install_commands(text) == [
        ("pypi", "requests"),
        ("pypi", "fastjsonx"),
        ("npm", "left-pad"),
        ("npm", "@scope/x"),
        ("pypi", "pkg-a"),
        ("pypi", "httpx"),
        ("pypi", "reqeusts"),
        ("npm", "react"),
    ]


@given(st.text(max_size=300))
def test_install_commands_never_crash(text):
    from codewitness.checks.deps import install_commands

    for ecosystem, name in install_commands("pip install " + text):
        assert ecosystem in ("pypi", "npm") and name


def test_typosquat_is_one_edit_away_never_two():
    """Issue 25 survivor checks/popular.py: the cutoff 1 -> 2 flagged names two edits away."""
    from codewitness.checks.popular import PopularNames

    popular = PopularNames({"requests": 1, "django": 2, "six": 3, "obscure-thing": 5001}, "test", "2026-01-01")
    found = {
        name: (near.name, near.kind) if near else None
        for name in ("reqests", "rqeuests", "requestz", "requestss", "requezsts", "srequests", "djangoo", "dja-ngo")
        for near in [popular.closest(name)]
    }
    assert found == {
        "reqests": ("requests", "omitted"),
        "rqeuests": ("requests", "swapped"),
        "requestz": ("requests", "substituted"),
        "requestss": ("requests", "repeated"),
        "requezsts": ("requests", "inserted"),
        "srequests": ("requests", "inserted"),  # its first letter equals its last: still not a repeat
        "djangoo": ("django", "repeated"),
        "dja-ngo": ("django", "separators"),
    }
    # Two edits away: another name, not an imitation.
    for name in ("reqsts", "rqeustss", "requ3stz", "djangooo", "jdango1"):
        assert popular.closest(name) is None, name
    # Popular names themselves, names too short to compare, short targets and unpopular targets.
    for name in ("requests", "Requests", "djn", "sixx", "six", "obscure-thinq"):
        assert popular.closest(name) is None, name
    assert popular.rank("Django") == 2 and popular.rank("flask") is None


def test_typosquat_edges_rank_length_and_ties():
    from codewitness.checks.popular import Near, PopularNames

    popular = PopularNames(
        {"yaml": 7, "typing-extensions": 3, "zzzz-b": 1, "zzzz-a": 2, "edge-of-ranks": 5000}, "test", "2026-01-01"
    )
    assert popular.closest("yanl") == Near("yaml", 7, "substituted")  # four letters, both sides: compared
    assert popular.closest("typingextensions") == Near("typing-extensions", 3, "separators")
    assert popular.closest("zzzz-c") == Near("zzzz-b", 1, "substituted")  # a tie goes to the more popular
    assert popular.closest("edge-of-rankz") == Near("edge-of-ranks", 5000, "substituted")  # the last rank counted
    assert PopularNames({"requests": 1}, "t", "d").closest("rrequests") == Near("requests", 1, "repeated")


def test_a_refreshed_snapshot_is_read_back_with_its_source_and_date(tmp_path):
    from datetime import UTC, datetime

    from codewitness.checks.popular import refreshed_path, write_snapshot

    path = refreshed_path(tmp_path)
    assert path == tmp_path / ".codewitness" / "cache" / "popular-pypi.tsv"
    write_snapshot(path, ["Requests", "boto3", "my_pkg"], "a test ranking: with a colon")
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# Popular PyPI project names with their download rank (1 = most downloaded)."
    assert text.splitlines()[3:] == ["rank\tname", "1\tRequests", "2\tboto3", "3\tmy_pkg"]
    popular = load_popular(tmp_path)
    assert (popular.source, popular.date) == ("a test ranking: with a colon", datetime.now(UTC).date().isoformat())
    assert (popular.rank("requests"), popular.rank("boto3"), popular.rank("my-pkg")) == (1, 2, 3)
    # Damaged lines and unknown header keys are skipped; a file without a header says "unknown".
    path.write_text("#version: 2\n2\tdjango\nnot a line\nx\tflask\n1\tdjango\n", encoding="utf-8")
    popular = load_popular(tmp_path)
    assert (popular.source, popular.date, popular.ranks) == ("unknown", "unknown", {"django": 2})


def test_installed_distributions_are_read_once_until_sys_path_changes(tmp_path):
    # Before: every `check` read the metadata of every installed distribution (0.28 s for 109).
    import os
    import subprocess
    import sys

    extra, scratch, cache = tmp_path / "extra", tmp_path / "scratch", tmp_path / "providers.json"
    _dist_info(extra, "other", "other_mod")
    scratch.mkdir()
    code = (
        "import json, sys\nfrom pathlib import Path\nfrom codewitness.checks.deps import _installed_providers\n"
        "print(json.dumps(_installed_providers(Path(sys.argv[1])).get('zz_fake')))"
    )

    def providers() -> object:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(extra), str(scratch)))}
        done = subprocess.run([sys.executable, "-c", code, str(cache)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert providers() is None
    kept = json.loads(cache.read_text())
    assert kept["providers"]["pytest"] == ["pytest"] and kept["providers"]["other_mod"] == ["other"]
    kept["providers"]["zz_fake"] = ["Fake-Dist"]  # only a run that reads the cache can know this one
    cache.write_text(json.dumps(kept))
    assert providers() == ["Fake-Dist"]
    # A folder on sys.path that holds no distribution (a project, a script's folder) changes: still kept.
    (scratch / "notes.txt").write_text("x")
    assert providers() == ["Fake-Dist"]
    _dist_info(extra, "zz-fake", "zz_fake")  # installing into a folder on sys.path changes its time
    assert providers() == ["zz-fake"]


def _dist_info(folder, name: str, top: str) -> None:
    """What installing distribution ``name`` (providing module ``top``) leaves in ``folder``."""
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "top_level.txt").write_text(f"{top}\n")


def _uv_lock(names: list[str]) -> str:
    packages = "".join(
        f'\n[[package]]\nname = "{name}"\nversion = "1.{i}.0"\nsource = {{ registry = "https://pypi.org/simple" }}\n'
        f'wheels = [{{ url = "https://files.example/{name}-1.{i}.0-py3-none-any.whl", hash = "sha256:{"0" * 64}" }}]\n'
        for i, name in enumerate(names)
    )
    return f'version = 1\nrequires-python = ">=3.11"\n{packages}'


def test_a_long_lock_file_is_parsed_once_per_content_and_read_back_the_same(tmp_path):
    cache = tmp_path / "manifests.json"
    text = _uv_lock([f"package-{i}" for i in range(300)])
    assert len(text) >= KEEP_PARSED_FROM
    parsed = parse_manifest("uv.lock", text)
    assert len(parsed) == 300 and parsed[7].pinned == "1.7.0"
    assert parse_manifest_kept(cache, "uv.lock", text) == parsed
    assert cache.is_file()
    # Read back from the file, not parsed: a changed cache entry shows through.
    kept = json.loads(cache.read_text())
    (key,) = kept
    kept[key][0][1] = "kept-not-parsed"
    cache.write_text(json.dumps(kept))
    assert parse_manifest_kept(cache, "uv.lock", text)[0].name == "kept-not-parsed"
    assert parse_manifest_kept(cache, "uv.lock", text)[1:] == parsed[1:]
    # Another content is parsed (and kept beside); a short manifest never touches the file.
    other = text.replace("package-0", "package-zero")
    assert parse_manifest_kept(cache, "uv.lock", other)[0].name == "package-zero"
    assert len(json.loads(cache.read_text())) == 2
    assert [d.name for d in parse_manifest_kept(cache, "requirements.txt", "flask\n")] == ["flask"]
    assert len(json.loads(cache.read_text())) == 2


@pytest.mark.parametrize("damage", ["", "not json", "[1, 2]", '{"k": 3}', '{"%s": [["pypi"]]}'])
def test_a_damaged_manifest_cache_is_parsed_again(tmp_path, damage):
    cache = tmp_path / "manifests.json"
    text = _uv_lock([f"package-{i}" for i in range(300)])
    parse_manifest_kept(tmp_path / "first.json", "uv.lock", text)
    (key,) = json.loads((tmp_path / "first.json").read_text())  # the content's key, for a damaged entry
    cache.write_text(damage.replace("%s", key))
    assert parse_manifest_kept(cache, "uv.lock", text) == parse_manifest("uv.lock", text)


def _untimed(finding: dict) -> dict:
    """A finding without the moment its index answer was fetched (two runs fetch at different moments)."""
    index = finding["properties"].get("index")
    if isinstance(index, dict):
        finding["properties"]["index"] = {k: v for k, v in index.items() if k != "fetched_at"}
    return finding


def test_asking_ahead_leaves_the_family_nothing_to_ask_and_the_same_verdicts(project, index_server):
    plain_ctx = _ctx(project, index_server)
    plain = run_checks(plain_ctx, families=("deps",))
    for cache in (project / ".codewitness").rglob("*.json"):
        cache.unlink()
    index_server.requests.clear()
    ctx = _ctx(project, index_server)
    ask_ahead(ctx)
    asked = sorted(index_server.requests)
    assert "/simple/freshpkg/" in asked and "/pypi/django/4.2.0/json" in asked and "/npm/left-pad" in asked
    assert not any("fastjsonx" in path for path in asked)  # imports are the family's: known after parsing
    ahead = run_checks(ctx, families=("deps",))
    assert sorted(index_server.requests) == sorted([*asked, "/simple/fastjsonx/"])  # nothing asked twice
    assert [_untimed(f.to_dict()) for f in ahead.findings] == [_untimed(f.to_dict()) for f in plain.findings]
    assert ctx.verdicts and ctx.verdicts == plain_ctx.verdicts
