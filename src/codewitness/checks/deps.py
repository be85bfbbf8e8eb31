"""Dependency checks (CW1xx): packages that do not exist, are too new, abandoned, typosquats,
vulnerable, or imported without being declared.

Reads ``requirements*.txt``/``*.in``, ``pyproject.toml`` (PEP 621, PEP 735 groups and Poetry),
``uv.lock``, ``poetry.lock``, ``Pipfile``/``Pipfile.lock`` and ``package.json``, plus the
imports of the Python files in scope. Every package gets an explainable verdict from the index
(:mod:`codewitness.checks.index`) and the popular-names snapshot (:mod:`codewitness.checks.popular`).

Example:
    >>> [d.name for d in parse_manifest("requirements.txt", "requests>=2\\nflask\\n")]
    ['requests', 'flask']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from codewitness.checks._perfile import sys_path_stamp
from codewitness.checks.context import CheckContext, SourceFile, is_manifest
from codewitness.checks.findings import Finding
from codewitness.checks.index import PackageInfo, normalize
from codewitness.checks.popular import PopularNames, load_popular

__all__ = [
    "Declared",
    "added_packages",
    "install_commands",
    "module_installed",
    "parse_manifest",
    "run",
    "verdict_findings",
]

#: Import names whose distribution is named differently (the common cases agents get wrong too).
IMPORT_TO_DIST = {
    "yaml": "PyYAML",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "sklearn": "scikit-learn",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "jwt": "PyJWT",
    "dotenv": "python-dotenv",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "serial": "pyserial",
    "magic": "python-magic",
    "docx": "python-docx",
    "git": "GitPython",
    "OpenSSL": "pyOpenSSL",
    "zmq": "pyzmq",
    "usb": "pyusb",
    "MySQLdb": "mysqlclient",
    "fitz": "PyMuPDF",
    "skimage": "scikit-image",
    "gi": "PyGObject",
    "google": "protobuf",
    "psycopg2": "psycopg2-binary",
    "pkg_resources": "setuptools",
    "win32api": "pywin32",
    "multipart": "python-multipart",
    "jose": "python-jose",
    "slugify": "python-slugify",
}


@dataclass(frozen=True)
class Declared:
    """A package named by a manifest or guessed from an import.

    Attributes:
        ecosystem: ``pypi`` or ``npm``.
        name: the project name as written.
        line: where it is named (1-based).
        pinned: the exact version when the manifest pins one.
        via: ``manifest``, ``import`` (then ``module`` is the imported module) or ``generation``
            (an install command in recorded AI output; ``module`` is then the generation id).
    """

    ecosystem: str
    name: str
    line: int
    pinned: str | None = None
    via: str = "manifest"
    module: str = ""


# -- manifests ---------------------------------------------------------------------------------

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_PIN = re.compile(r"^===?\s*([A-Za-z0-9.+!_-]+)\s*$")


def _requirement(text: str) -> tuple[str, str | None] | None:
    """Name and pinned version of a PEP 508 requirement string, ``None`` for URLs and paths."""
    text = text.split(";", 1)[0].strip()
    if not text or "://" in text or text.startswith((".", "/", "-")) or " @ " in text:
        return None
    match = _REQ_NAME.match(text)
    if match is None:
        return None
    pin = _PIN.match(match.group(3).strip().strip("()"))
    return match.group(1), pin.group(1) if pin else None


_WORD = re.compile(r"[A-Za-z0-9._-]+")


@lru_cache(maxsize=16)
def _first_lines(text: str) -> dict[str, int]:
    """The first non-comment line of each word of ``text`` (lower case), for :func:`_line_of` on large lock files."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.lstrip().startswith("#"):
            for word in _WORD.findall(line):
                found.setdefault(word.lower(), number)
    return found


def _line_of(text: str, name: str) -> int:
    """The first line naming ``name`` (as a word) in ``text``; 1 when not found."""
    bare = name.strip('"').lower()
    if bare and _WORD.fullmatch(bare):
        hit = _first_lines(text).get(bare)
        if hit is not None:
            return hit
    pattern = re.compile(r"(?<![A-Za-z0-9._-])" + re.escape(name) + r"(?![A-Za-z0-9_-])", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.search(line) and not line.lstrip().startswith("#"):
            return number
    return 1


def parse_manifest(filename: str, text: str) -> list[Declared]:
    """The packages a manifest or lock file declares.

    Args:
        filename: the file's base name (decides the format).
        text: its content.

    Returns:
        Declared packages; an unparseable file yields none (the runner counts it as skipped).
    """
    return list(_parsed(filename, text))


#: Manifests at least this long (lock files: uv.lock, poetry.lock, package-lock.json) are parsed once
#: per content and the packages kept in ``.codewitness/cache/manifests.json``: a 300 KB uv.lock takes
#: 50 ms to parse at every run of the gate, a third of a warm run on a small project.
KEEP_PARSED_FROM = 32 * 1024


def parse_manifest_kept(cache_file: Path, filename: str, text: str) -> list[Declared]:
    """:func:`parse_manifest`, with a long manifest's packages kept in ``cache_file`` by its content's digest."""
    if len(text) < KEEP_PARSED_FROM:
        return parse_manifest(filename, text)
    key = hashlib.sha256(f"{filename}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
    kept = _kept_manifests(cache_file)
    rows = kept.get(key)
    if isinstance(rows, list):
        with contextlib.suppress(TypeError, ValueError):
            return [Declared(str(e), str(n), int(ln), None if v is None else str(v)) for e, n, ln, v in rows]
    found = parse_manifest(filename, text)
    kept[key] = [[d.ecosystem, d.name, d.line, d.pinned] for d in found]
    from codewitness._files import write_atomically

    with contextlib.suppress(OSError):
        # The newest eight contents are enough: a project has a lock file or two, each changing now and then.
        write_atomically(cache_file, json.dumps(dict(list(kept.items())[-8:])), private=True)
    return found


def _declared_read_only(cache_file: Path, filename: str, text: str) -> list[Declared]:
    """What :func:`parse_manifest_kept` answers, without keeping anything (the family keeps it when it runs)."""
    if len(text) >= KEEP_PARSED_FROM:
        key = hashlib.sha256(f"{filename}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
        rows = _kept_manifests(cache_file).get(key)
        if isinstance(rows, list):
            with contextlib.suppress(TypeError, ValueError):
                return [Declared(str(e), str(n), int(ln), None if v is None else str(v)) for e, n, ln, v in rows]
    return parse_manifest(filename, text)


def ask_ahead(ctx: CheckContext) -> None:
    """Ask the package index now about what the manifests in scope declare (and the known vulnerabilities of
    the pinned versions), so that :func:`run` finds the answers in the client's memory.

    Meant for a background thread while the per-file families parse (the index answers over the network): it
    reads the manifests and asks the index client, nothing else, and writes no cache of its own.
    """
    if ctx.index is None or ctx.index.offline:
        return
    kept = ctx.root / ".codewitness" / "cache" / "manifests.json"
    wanted: dict[tuple[str, str], Declared] = {}
    for manifest in ctx.manifests():
        for pkg in _declared_read_only(kept, manifest.path.name, manifest.text):
            if manifest.in_scope(pkg.line):
                wanted.setdefault((pkg.ecosystem, pkg.name), pkg)
    answers = ctx.index.lookup_many(wanted)
    ctx.index.vulnerabilities_many(
        (pkg.name, pkg.pinned)
        for key, pkg in wanted.items()
        if pkg.pinned and pkg.ecosystem == "pypi" and answers[key].state == "exists"
    )


def _kept_manifests(cache_file: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        kept = json.loads(cache_file.read_text(encoding="utf-8"))
        if isinstance(kept, dict):
            return kept
    return {}


@lru_cache(maxsize=32)
def _parsed(filename: str, text: str) -> tuple[Declared, ...]:
    """One parse per manifest and run (the dependency family reads the root manifests twice)."""
    try:
        return tuple(_parse(filename, text))
    except (tomllib.TOMLDecodeError, ValueError, TypeError, AttributeError):
        return ()


def _parse(filename: str, text: str) -> Iterator[Declared]:
    if filename == "package.json":
        data = json.loads(text)
        for section in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
            for name, spec in (data.get(section) or {}).items():
                spec = str(spec)
                if spec.startswith(("file:", "link:", "workspace:", "git", "http:", "https:", "github:")):
                    continue
                if spec.startswith("npm:"):  # an alias: the real package is after "npm:"
                    target = spec[4:]
                    name = "@" + target[1:].split("@")[0] if target.startswith("@") else target.split("@")[0]
                yield Declared("npm", name, _line_of(text, f'"{name}"'), _npm_pin(spec))
        return
    if filename == "Pipfile.lock":
        data = json.loads(text)
        for section in ("default", "develop"):
            for name, spec in (data.get(section) or {}).items():
                version = str(spec.get("version", "")) if isinstance(spec, dict) else ""
                if isinstance(spec, dict) and ("path" in spec or "git" in spec or "file" in spec):
                    continue
                yield Declared(
                    "pypi",
                    name,
                    _line_of(text, f'"{name}"'),
                    version[2:] if version.startswith("==") else None,
                )
        return
    if filename.endswith((".txt", ".in")):
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith(("#", "-")):
                continue
            parsed = _requirement(line)
            if parsed:
                yield Declared("pypi", parsed[0], number, parsed[1])
        return
    data = tomllib.loads(text)
    if filename in ("uv.lock", "poetry.lock"):
        for package in data.get("package", []):
            source = package.get("source") or {}
            if isinstance(source, dict) and set(source) & {
                "editable",
                "virtual",
                "path",
                "directory",
                "git",
                "url",
            }:
                continue
            if isinstance(source, dict) and source.get("type") in ("directory", "file", "git", "url"):
                continue
            name = str(package["name"])
            yield Declared("pypi", name, _line_of(text, f'"{name}"'), str(package.get("version") or "") or None)
        return
    if filename == "Pipfile":
        for section in ("packages", "dev-packages"):
            for name, spec in (data.get(section) or {}).items():
                if isinstance(spec, dict) and ({"path", "git", "file"} & set(spec)):
                    continue
                yield Declared("pypi", name, _line_of(text, name))
        return
    if filename == "pyproject.toml":
        project = data.get("project") or {}
        strings: list[str] = list(project.get("dependencies") or [])
        for group in (project.get("optional-dependencies") or {}).values():
            strings.extend(group)
        for group in (data.get("dependency-groups") or {}).values():
            strings.extend(s for s in group if isinstance(s, str))
        own = normalize(str(project.get("name", "")))
        for req in strings:
            parsed = _requirement(str(req))
            if parsed and normalize(parsed[0]) != own:  # `pkg[extra]` self-references are not dependencies
                yield Declared("pypi", parsed[0], _line_of(text, parsed[0]), parsed[1])
        poetry = (data.get("tool") or {}).get("poetry") or {}
        tables = [poetry.get("dependencies") or {}, poetry.get("dev-dependencies") or {}]
        tables += [(g or {}).get("dependencies") or {} for g in (poetry.get("group") or {}).values()]
        for table in tables:
            for name, spec in table.items():
                if name.lower() == "python" or (isinstance(spec, dict) and {"path", "git", "url"} & set(spec)):
                    continue
                pin = spec if isinstance(spec, str) and re.fullmatch(r"\d[\w.]*", spec) else None
                yield Declared("pypi", name, _line_of(text, name), pin)


def _npm_pin(spec: str) -> str | None:
    return spec if re.fullmatch(r"\d+\.\d+\.\d+[\w.+-]*", spec) else None


@lru_cache(maxsize=1)
def _stdlib_any_version() -> frozenset[str]:
    """Standard-library module names of this and of other Python versions (``annotationlib`` is 3.14's),
    from typeshed's ``VERSIONS`` when typeshed_client is installed: they are never index packages."""
    names = set(sys.stdlib_module_names)
    from importlib.util import find_spec

    try:
        # Found, not imported: the package's own imports cost a warm run more than reading the file.
        spec = find_spec("typeshed_client")
        folders = list(spec.submodule_search_locations or ()) if spec is not None else []
        text = (Path(folders[0]) / "typeshed" / "VERSIONS").read_text(encoding="utf-8") if folders else ""
    except (ImportError, OSError, ValueError):
        return frozenset(names)
    for line in text.splitlines():
        name, sep, _ = line.partition(":")
        if sep and not name.startswith("#") and "." not in name.strip():
            names.add(name.strip())
    return frozenset(names)


def _made_by_the_file(module: str, text: str) -> bool:
    """Whether the file names ``module`` as a file or folder it writes or manages (``"site_app.py"``,
    ``tmp / "config_package_app"``, ``purge_module("site_app")``): tests that create modules at run time and
    import them are not importing a package from an index."""
    return re.search(rf"""["']{re.escape(module)}(?:\.py)?["']""", text) is not None


def _declares(dotted: str, declared: set[str]) -> bool:
    """Whether a declared distribution is named like the imported module or one of its parents.

    A distribution's import names are usually its name (``sqlite-utils`` -> ``sqlite_utils``) or, for
    namespace packages, its dotted name (``ruamel.yaml``, ``zope.interface``, ``google-cloud-storage`` ->
    ``google.cloud.storage``): ``from ruamel.yaml import YAML`` is declared by ``ruamel.yaml`` even when it
    is not installed to read its metadata.
    """
    parts = dotted.split(".")
    return any(normalize(".".join(parts[:n])) in declared for n in range(1, len(parts) + 1))


def _installed_providers(cache_file: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Top-level module -> the installed distributions providing it (every distribution's metadata read).

    With ``cache_file``, the answer is kept there and used again while every folder on ``sys.path``
    keeps its modification time (installing, removing or upgrading a distribution changes its
    folder's): reading the metadata of a hundred distributions takes a quarter of a second.
    """
    return _providers_cached(str(cache_file) if cache_file else None, sys_path_stamp())


@lru_cache(maxsize=2)
def _providers_cached(cache_file: str | None, stamp: str) -> dict[str, tuple[str, ...]]:
    if cache_file:
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError, AttributeError, TypeError):
            kept = json.loads(Path(cache_file).read_text(encoding="utf-8"))
            if kept.get("fingerprint") == stamp and isinstance(kept.get("providers"), dict):
                return {str(k): tuple(str(d) for d in v) for k, v in kept["providers"].items()}
    from importlib.metadata import packages_distributions

    providers = {k: tuple(v) for k, v in packages_distributions().items()}
    if cache_file:
        from codewitness._files import write_atomically

        with contextlib.suppress(OSError):
            write_atomically(cache_file, json.dumps({"fingerprint": stamp, "providers": providers}), private=True)
    return providers


def module_installed(module: str) -> bool:
    """True when ``module`` can be imported here (found on ``sys.path``; nothing is executed)."""
    from importlib.machinery import PathFinder

    return module in sys.builtin_module_names or PathFinder.find_spec(module) is not None


def _local_modules(ctx: CheckContext) -> set[str]:
    """Top-level names the project itself provides (its own packages and modules)."""
    names: set[str] = set()
    for base in (ctx.root, ctx.root / "src", ctx.root / "lib"):
        if not base.is_dir():
            continue
        for child in base.iterdir():
            if child.suffix == ".py":
                names.add(child.stem)
            elif child.is_dir() and ((child / "__init__.py").exists() or any(child.glob("*.py"))):
                names.add(child.name)
    for f in ctx.files:
        parts = f.rel.split("/")
        names.update(p for p in parts[:-1])
        names.add(parts[-1].rsplit(".", 1)[0])
    return names


# -- verdicts ----------------------------------------------------------------------------------


def verdict_findings(
    pkg: Declared,
    info: PackageInfo,
    popular: PopularNames,
    *,
    path: str,
    snippet: str,
    new_days: int,
    vulns: list[dict[str, Any]] | None = None,
) -> list[Finding]:
    """The findings one package's index answer and name earn.

    Args:
        pkg: the package and where it is named.
        info: the index answer.
        popular: the popular-names snapshot (PyPI names only).
        path: the file that names it.
        snippet: the line that names it.
        new_days: packages younger than this many days are "new".
        vulns: known vulnerabilities of the pinned version, when looked up.
    """
    props: dict[str, Any] = {"package": pkg.name, "ecosystem": pkg.ecosystem, "index": info.to_dict()}
    if pkg.via == "import":
        props["module"] = pkg.module
    near = popular.closest(pkg.name) if pkg.ecosystem == "pypi" else None
    if near is not None:
        props["near"] = {"name": near.name, "rank": near.rank, "kind": near.kind}
    if pkg.via == "generation":
        props["generation"] = pkg.module
    where = f"{pkg.ecosystem} package {pkg.name!r}" + (
        f" (imported as {pkg.module!r})"
        if pkg.via == "import"
        else f" (installed by AI generation {pkg.module})"
        if pkg.via == "generation"
        else ""
    )

    def make(rule_id: str, message: str, **kw: Any) -> Finding:
        return Finding(rule_id, path, pkg.line, message, snippet=snippet, properties=props, **kw)

    if info.state == "not_checked":
        return [make("CW107", f"{where} was not checked: {info.reason}")]
    if info.state == "missing":
        hint = f"; did you mean {near.name!r} (rank {near.rank})?" if near else ""
        return [make("CW101", f"{where} does not exist on {info.source.rsplit('/', 2)[0] or 'the index'}{hint}")]
    out: list[Finding] = []
    if info.status in ("quarantined", "unpublished"):
        out.append(make("CW104", f"{where} is {info.status} on the index"))
    elif info.status in ("archived", "deprecated"):
        out.append(make("CW104", f"{where} is {info.status}", severity="medium"))
    elif info.all_yanked:
        out.append(make("CW104", f"every file of {where} is yanked", severity="medium"))
    if near is not None:
        out.append(make("CW105", f"{where} looks like a typosquat of {near.name!r} (rank {near.rank}, {near.kind})"))
    age = info.age_days()
    if age is not None and age < new_days:
        out.append(make("CW102", f"{where} was first uploaded {max(age, 0):.0f} days ago"))
    if info.versions == 1:
        out.append(make("CW103", f"{where} has a single version ({info.latest or '?'})"))
    for v in vulns or []:
        fixed = ", ".join(v["fixed_in"]) or "no fixed version listed"
        out.append(make("CW108", f"{where} {pkg.pinned} has {v['id']} (fixed in {fixed})"))
    return out


def run(ctx: CheckContext) -> list[Finding]:
    """Check declared packages and the imports of the files in scope.

    Without ``ctx.index`` no index is asked and every package is reported as not checked.
    """
    popular = load_popular(ctx.root)
    wanted: list[tuple[Declared, SourceFile]] = []
    declared_names: set[str] = set()
    manifests_seen = False
    kept = ctx.root / ".codewitness" / "cache" / "manifests.json"
    for manifest in ctx.manifests():
        manifests_seen = True
        named: set[tuple[str, str]] = set()
        for pkg in parse_manifest_kept(kept, manifest.path.name, manifest.text):
            key = (pkg.ecosystem, normalize(pkg.name))
            declared_names.add(key[1])
            if manifest.in_scope(pkg.line) and key not in named:  # one verdict per package per file
                named.add(key)
                wanted.append((pkg, manifest))
    # Declarations outside the scope still count as declared (a --base run sees only new lines).
    for path in _all_manifests(ctx):
        text = path.read_text("utf-8", "replace")
        declared_names.update(normalize(p.name) for p in parse_manifest_kept(kept, path.name, text))
        manifests_seen = True

    findings: list[Finding] = []
    local = _local_modules(ctx)
    for f in ctx.python_sources():
        if f.imports is None:
            ctx.skipped.append((f.rel, "not valid Python"))
            continue
        reported: set[str] = set()
        for dotted, line in f.imports:
            module = dotted.split(".")[0]
            if module in reported or not f.in_scope(line) or module in local or module in _stdlib_any_version():
                continue
            guess = IMPORT_TO_DIST.get(module, module)
            if module == "__future__" or normalize(guess) in declared_names or _declares(dotted, declared_names):
                continue  # the common case, decided without reading every installed distribution's metadata
            dists = _installed_providers(ctx.root / ".codewitness" / "cache" / "providers.json").get(module, ())
            if dists or module_installed(module):
                if manifests_seen and dists and not any(normalize(d) in declared_names for d in dists):
                    reported.add(module)
                    findings.append(
                        Finding(
                            "CW106",
                            f.rel,
                            line,
                            f"module {module!r} comes from {dists[0]!r}, which no manifest declares",
                            snippet=f.line_text(line),
                            properties={"module": module, "distribution": dists[0]},
                        )
                    )
                continue
            reported.add(module)
            if _made_by_the_file(module, f.text):
                continue
            wanted.append((Declared("pypi", guess, line, via="import", module=module), f))

    places: list[tuple[Declared, str, str]] = [(p, s.rel, s.line_text(p.line)) for p, s in wanted]
    places += _generation_packages(ctx, declared_names)
    answers = ctx.index.lookup_many((p.ecosystem, p.name) for p, _, _ in places) if ctx.index else {}

    def audited(pkg: Declared, info: PackageInfo | None) -> bool:
        return bool(pkg.pinned) and pkg.ecosystem == "pypi" and info is not None and info.state == "exists"

    # Asked together (a few at a time), not one pinned package after the other.
    known_vulns = (
        ctx.index.vulnerabilities_many(
            (p.name, p.pinned) for p, _, _ in places if p.pinned and audited(p, answers.get((p.ecosystem, p.name)))
        )
        if ctx.index
        else {}
    )
    for pkg, rel, snippet in places:
        info = answers.get((pkg.ecosystem, pkg.name)) or PackageInfo(
            pkg.ecosystem,
            pkg.name,
            "not_checked",
            reason="no index client (checks ran without network settings)",
        )
        vulns = None
        if ctx.index and pkg.pinned and audited(pkg, info):
            vulns = known_vulns[(pkg.name, pkg.pinned)]
        found = verdict_findings(
            pkg,
            info,
            popular,
            path=rel,
            snippet=snippet,
            new_days=ctx.settings.new_package_days,
            vulns=vulns,
        )
        if pkg.via == "import" and info.state == "exists":
            found.insert(
                0,
                Finding(
                    "CW106",
                    rel,
                    pkg.line,
                    f"module {pkg.module!r} is neither installed nor declared (index has {pkg.name!r})",
                    snippet=snippet,
                    properties={"module": pkg.module, "distribution": pkg.name},
                ),
            )
        findings.extend(found)
        ctx.verdicts.append(_verdict_row(pkg, info, popular, f"{rel}:{pkg.line}", found))
    popular.keep()
    return findings


def _verdict_row(
    pkg: Declared, info: PackageInfo, popular: PopularNames, where: str, found: list[Finding]
) -> dict[str, Any]:
    """One package's verdict, with every fact behind it (``codewitness deps`` shows these)."""
    age = info.age_days()
    near = popular.closest(pkg.name) if pkg.ecosystem == "pypi" else None
    rules = sorted({f.rule_id for f in found})
    return {
        "ecosystem": pkg.ecosystem,
        "name": pkg.name,
        "where": where,
        "via": pkg.via,
        "verdict": "not checked" if info.state == "not_checked" else "ok" if not rules else "problem",
        "state": info.state,
        "reason": info.reason,
        "first_upload": info.first_upload,
        "age_days": round(age) if age is not None else None,
        "versions": info.versions,
        "latest": info.latest,
        "status": info.status,
        "popularity_rank": popular.rank(pkg.name) if pkg.ecosystem == "pypi" else None,
        "near": near.name if near else None,
        "rules": rules,
        "source": info.source,
        "from_cache": info.from_cache,
    }


_INSTALL = re.compile(
    r"(?:^|[\s`$>(])(?:python[\d.]*\s+-m\s+)?(?P<tool>pip3?|uv\s+pip|uv|pipx|poetry|pdm|npm|pnpm|yarn)"
    r"\s+(?:install|add|i)\b(?P<args>[^\n`;&|#)]*)",
    re.MULTILINE,
)
#: Install options that take a value (the value is not a package).
_OPTION_VALUES = frozenset(
    {
        "-r",
        "--requirement",
        "-c",
        "--constraint",
        "-e",
        "--editable",
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "-t",
        "--target",
        "--python",
        "--group",
        "-G",
        "--prefix",
        "--root",
        "--registry",
        "--only",
        "--source",
    }
)


def install_commands(text: str) -> list[tuple[str, str]]:
    """``(ecosystem, name)`` of every package an install command in ``text`` names.

    Understands ``pip``/``pip3``/``python -m pip``/``uv pip``/``uv add``/``pipx``/``poetry add``/
    ``pdm add`` (PyPI) and ``npm``/``pnpm``/``yarn`` ``install``/``add``/``i`` (npm).

    Example:
        >>> install_commands("run `pip install -U requests fastjsonx==1.0` then npm i left-pad@1")
        [('pypi', 'requests'), ('pypi', 'fastjsonx'), ('npm', 'left-pad')]
    """
    found: list[tuple[str, str]] = []
    for match in _INSTALL.finditer(text):
        ecosystem = "npm" if match.group("tool") in ("npm", "pnpm", "yarn") else "pypi"
        skip_next = False
        for token in match.group("args").split():
            token = token.strip("'\"")
            if skip_next:
                skip_next = False
                continue
            if token in _OPTION_VALUES:
                skip_next = True
                continue
            if not token or token.startswith("-") or "://" in token or token.startswith((".", "/", "~", "$", "<")):
                continue
            if ecosystem == "npm":
                name = "@" + token[1:].split("@")[0] if token.startswith("@") else token.split("@")[0]
                if re.fullmatch(r"(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*", name):
                    found.append(("npm", name))
                continue
            parsed = _requirement(token)
            if parsed:
                found.append(("pypi", parsed[0]))
    return list(dict.fromkeys(found))


def _generation_packages(ctx: CheckContext, declared: set[str]) -> list[tuple[Declared, str, str]]:
    """Packages that install commands in recorded AI output name, for generations touching files in scope.

    Each is placed at the first line the generation wrote in an in-scope file.
    """
    if not ctx.generations:
        return []
    in_scope = {f.rel: f for f in ctx.files}
    out: list[tuple[Declared, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for generation in ctx.generations:
        ranges = [r for r in generation.files if r.path in in_scope]
        if not ranges:
            continue
        first = ranges[0]
        source = in_scope[first.path]
        for ecosystem, name in install_commands(generation.output):
            key = (ecosystem, normalize(name))
            if key in seen or (ecosystem == "pypi" and normalize(name) in declared):
                continue
            seen.add(key)
            pkg = Declared(ecosystem, name, first.start, via="generation", module=generation.id)
            out.append((pkg, first.path, source.line_text(first.start)))
    return out


def _all_manifests(ctx: CheckContext) -> Iterable[Any]:
    """Manifests at the project root, whether in scope or not."""
    for child in sorted(ctx.root.iterdir()) if ctx.root.is_dir() else []:
        if child.is_file() and is_manifest(child.name):
            yield child


def added_packages(filename: str, before: str | None, after: str) -> list[Declared]:
    """Packages ``after`` declares that ``before`` did not (all of them when ``before`` is unknown).

    Used by the agent hook to look only at what an edit added.
    """
    old = {(p.ecosystem, normalize(p.name)) for p in parse_manifest(filename, before)} if before is not None else set()
    return [p for p in parse_manifest(filename, after) if (p.ecosystem, normalize(p.name)) not in old]
