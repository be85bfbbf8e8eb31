"""Ask package indexes what they know about a package: PyPI-style Simple API and npm registries.

Python packages are looked up with the JSON Simple API (PEP 691), which also gives upload times
and the version list (PEP 700) and the project status (PEP 792); the index is the one the user's
pip is set to (``PIP_INDEX_URL``, then pip's configuration files) unless ``check.index_url`` says
otherwise. npm packages are looked up in the registry npm is set to. Known vulnerabilities come
from the PyPI JSON API beside the Simple API when the index offers it.

Answers are cached in ``.codewitness/cache/package-index.json`` — a disposable HTTP answer cache,
kept out of the database on purpose so that pre-commit hooks, CI and agent hooks work where no
store exists. ``offline=True`` answers from the cache alone. Whatever cannot be reached is
``not_checked``, never clean.

Example:
    >>> client = IndexClient(pypi_url="http://127.0.0.1:9/simple", npm_url=None, timeout=0.5)
    >>> client.pypi("requests").state  # nothing listens on port 9
    'not_checked'
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_PYPI",
    "IndexCache",
    "IndexClient",
    "PackageInfo",
    "normalize",
    "npm_registry_url",
    "pip_index_url",
]

#: pip's own default index, used when neither codewitness nor pip is configured otherwise.
DEFAULT_PYPI = "https://pypi.org/simple"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
State = Literal["exists", "missing", "not_checked"]
_USER_AGENT = "codewitness-check (+package verification)"

_OPENER_LOCK = threading.Lock()
_OPENERS: list[Any] = []


def _opener() -> Any:
    """The one URL opener of this process (what ``urlopen`` would make: proxies from the environment, the default
    TLS context), made once. The index is asked by up to eight threads at once, and ``urlopen`` makes its opener on
    first use without a lock: each thread made its own, loading the system's certificates again (30-40 ms each)."""
    with _OPENER_LOCK:
        if not _OPENERS:
            import urllib.request

            _OPENERS.append(urllib.request.build_opener())
        return _OPENERS[0]


_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """The PEP 503 normalised form of a Python project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return _SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True)
class PackageInfo:
    """What an index says about one package; every field explains a verdict.

    Attributes:
        ecosystem: ``pypi`` or ``npm``.
        name: the name as asked.
        state: ``exists``, ``missing`` (the index answered 404) or ``not_checked``.
        reason: why it was not checked, when it was not.
        first_upload: ISO time of the oldest file (PyPI) or of creation (npm), when known.
        versions: how many versions the index lists, when known.
        latest: the newest version, when known.
        status: ``active``, ``archived``, ``quarantined``, ``deprecated`` or ``unpublished``.
        all_yanked: every file of the project is yanked.
        source: the URL that was asked.
        fetched_at: when the answer was fetched (seconds since the epoch).
        from_cache: the answer came from the local cache.
    """

    ecosystem: str
    name: str
    state: State
    reason: str = ""
    first_upload: str | None = None
    versions: int | None = None
    latest: str | None = None
    status: str = "active"
    all_yanked: bool = False
    source: str = ""
    fetched_at: float = 0.0
    from_cache: bool = False

    def age_days(self, now: datetime | None = None) -> float | None:
        """Days since the first upload, when known."""
        if not self.first_upload:
            return None
        try:
            first = datetime.fromisoformat(self.first_upload.replace("Z", "+00:00"))
        except ValueError:
            return None
        if first.tzinfo is None:
            first = first.replace(tzinfo=UTC)
        return ((now or datetime.now(UTC)) - first).total_seconds() / 86400

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (also the cache format)."""
        return dataclasses.asdict(self)


# -- where to ask ------------------------------------------------------------------------------


def _pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files, lowest priority first (global, user, site, PIP_CONFIG_FILE)."""
    home = Path(environ.get("HOME", str(Path.home())))
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    files += [
        home / ".pip" / "pip.conf",
        Path(environ.get("XDG_CONFIG_HOME", str(home / ".config"))) / "pip" / "pip.conf",
    ]
    if environ.get("VIRTUAL_ENV"):
        files.append(Path(environ["VIRTUAL_ENV"]) / "pip.conf")
    if environ.get("PIP_CONFIG_FILE") and environ["PIP_CONFIG_FILE"] != os.devnull:
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return files


def pip_index_url(environ: Mapping[str, str] | None = None) -> str:
    """The index pip installs from: ``PIP_INDEX_URL``, else pip's config files, else PyPI.

    Within a config file ``[install] index-url`` wins over ``[global] index-url``, as in pip.
    """
    env = os.environ if environ is None else environ
    if env.get("PIP_INDEX_URL"):
        return env["PIP_INDEX_URL"].split()[0]
    found = ""
    for path in _pip_config_files(env):
        import configparser  # here: most runs are told the index's URL, or find it in the cache

        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue  # pip would refuse a broken file too; the next one may still say something
        for section in ("global", "install"):
            for key in ("index-url", "index_url"):
                if parser.has_option(section, key):
                    found = parser.get(section, key).split()[0]
    return found or DEFAULT_PYPI


def npm_registry_url(
    root: Path, environ: Mapping[str, str] | None = None, cache: IndexCache | None = None
) -> str | None:
    """The registry npm uses: ``npm_config_registry``, ``.npmrc`` files, else ``npm config get registry``.

    Returns ``None`` when no registry is configured and npm is not installed to tell its default.
    With a ``cache``, npm's own answer is kept there as long as an index answer (starting npm
    takes a third of a second, more than a whole warm ``check`` of many repositories).
    """
    env = os.environ if environ is None else environ
    for key in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if env.get(key):
            return env[key]
    home = Path(env.get("HOME", str(Path.home())))
    for rc in (root / ".npmrc", home / ".npmrc"):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in rc.read_text(encoding="utf-8").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() == "registry" and value.strip():
                    return value.strip()
    npm = shutil.which("npm")
    if npm is None:
        return None
    key = f"npm config get registry {npm}"
    kept = cache.get(key, allow_stale=False) if cache else None
    if kept is not None and isinstance(kept.get("registry"), str):
        return str(kept["registry"])
    try:
        out = subprocess.run(
            [npm, "config", "get", "registry"], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    if out.returncode != 0 or not value.startswith(("http://", "https://")):
        return None
    if cache:
        cache.put(key, {"registry": value, "fetched_at": time.time()})
    return value


# -- cache -------------------------------------------------------------------------------------


class IndexCache:
    """Answers from package indexes, kept in one JSON file and written atomically.

    Args:
        path: the cache file (created with its folder on :meth:`save`).
        max_age_hours: answers older than this are stale (still used offline).
    """

    VERSION = 1

    def __init__(self, path: Path, max_age_hours: float = 24.0) -> None:
        self.path = path
        self.max_age = max_age_hours * 3600
        self._lock = threading.Lock()
        self._dirty = False
        self._entries: dict[str, dict[str, Any]] = {}
        with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == self.VERSION and isinstance(data.get("entries"), dict):
                self._entries = data["entries"]
        # A corrupt or foreign cache file is ignored and replaced on save: it holds answers we can ask again.

    def get(self, key: str, *, allow_stale: bool) -> dict[str, Any] | None:
        """The cached answer for ``key``, if any and fresh enough."""
        with self._lock:
            entry = self._entries.get(key)
        if not isinstance(entry, dict):
            return None
        if not allow_stale and time.time() - float(entry.get("fetched_at", 0)) > self.max_age:
            return None
        return entry

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Remember an answer."""
        with self._lock:
            self._entries[key] = value
            self._dirty = True

    def save(self) -> None:
        """Write the cache if anything changed (temp file + rename, so readers never see half a file)."""
        with self._lock:
            if not self._dirty:
                return
            payload = json.dumps({"version": self.VERSION, "entries": self._entries}, sort_keys=True)
            self._dirty = False
        from codewitness._files import write_atomically

        write_atomically(self.path, payload, private=True)


# -- client ------------------------------------------------------------------------------------


@dataclass
class IndexClient:
    """Looks packages up, with caching, offline mode and "not checked" on any failure.

    Args:
        pypi_url: the Simple API root, e.g. ``https://pypi.org/simple``.
        npm_url: the npm registry root, or ``None`` when none is configured.
        cache: the answer cache, or ``None`` for no caching.
        offline: answer from the cache only.
        timeout: seconds per HTTP request.
    """

    pypi_url: str
    npm_url: str | None
    cache: IndexCache | None = None
    offline: bool = False
    timeout: float = 10.0
    _memo: dict[str, PackageInfo] = field(default_factory=dict, repr=False)

    def pypi(self, name: str) -> PackageInfo:
        """What the Python index says about project ``name``."""
        url = self._pypi_url(name)
        return self._cached(f"pypi {url}", "pypi", name, url, self._fetch_pypi)

    def _pypi_url(self, name: str) -> str:
        return f"{self.pypi_url.rstrip('/')}/{normalize(name)}/"

    def npm(self, name: str) -> PackageInfo:
        """What the npm registry says about package ``name`` (scoped names allowed)."""
        if self.npm_url is None:
            return PackageInfo(
                "npm", name, "not_checked", reason="no npm registry is configured and npm is not installed"
            )
        quoted = (
            urllib.parse.quote(name, safe="@")
            if not name.startswith("@")
            else "@" + urllib.parse.quote(name[1:], safe="")
        )
        url = f"{self.npm_url.rstrip('/')}/{quoted}"
        return self._cached(f"npm {url}", "npm", name, url, self._fetch_npm)

    def lookup_many(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PackageInfo]:
        """Look up many ``(ecosystem, name)`` pairs, a few at a time."""
        keys = sorted(set(wanted))
        answers: dict[tuple[str, str], PackageInfo] = {}
        asked: list[tuple[str, str]] = []
        for key in keys:
            known = self._known(f"pypi {self._pypi_url(key[1])}", key[1]) if key[0] == "pypi" else None
            if known is None:
                asked.append(key)
            else:
                answers[key] = known
        if asked and self.offline:
            answers.update((key, self.pypi(key[1]) if key[0] == "pypi" else self.npm(key[1])) for key in asked)
        elif asked:
            from concurrent.futures import ThreadPoolExecutor  # only when the index is asked: threads cost a start

            with ThreadPoolExecutor(max_workers=min(8, len(asked))) as pool:
                fetched = pool.map(lambda k: self.pypi(k[1]) if k[0] == "pypi" else self.npm(k[1]), asked)
                answers.update(zip(asked, fetched, strict=True))
        return {key: answers[key] for key in keys}

    def vulnerabilities(self, name: str, version: str) -> list[dict[str, Any]] | None:
        """Known vulnerabilities of ``name==version`` from the PyPI JSON API, or ``None`` when unknown.

        The JSON API is looked for beside the Simple API (``.../simple`` -> ``.../pypi/NAME/VERSION/json``).
        """
        url = self._vulnerabilities_url(name, version)
        if url is None:
            return None
        key = f"vulns {url}"
        entry = self.cache.get(key, allow_stale=self.offline) if self.cache else None
        if entry is not None:
            known = entry.get("vulnerabilities")
            return list(known) if isinstance(known, list) else None
        if self.offline:
            return None
        try:
            status, _, body = self._get(url, "application/json")
            data = json.loads(body) if status == 200 else None
        except (OSError, ValueError):
            return None
        if status == 404:  # a version the index does not have: remembered, not asked again on every run
            if self.cache:
                self.cache.put(key, {"vulnerabilities": None, "fetched_at": time.time()})
            return None
        if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), list):
            return None
        vulns = [
            {
                "id": v.get("id"),
                "aliases": v.get("aliases") or [],
                "fixed_in": v.get("fixed_in") or [],
                "summary": (v.get("summary") or v.get("details") or "")[:200],
            }
            for v in data["vulnerabilities"]
            if isinstance(v, dict) and not v.get("withdrawn")
        ]
        if self.cache:
            self.cache.put(key, {"vulnerabilities": vulns, "fetched_at": time.time()})
        return vulns

    def vulnerabilities_many(
        self, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[dict[str, Any]] | None]:
        """:meth:`vulnerabilities` of many ``(name, version)`` pairs, the uncached ones a few at a time."""
        keys = list(dict.fromkeys(wanted))
        asked = [key for key in keys if self._asks_for_vulnerabilities(*key)]
        answers = {key: self.vulnerabilities(*key) for key in keys if len(asked) < 2 or key not in asked}
        if len(asked) >= 2:
            from concurrent.futures import ThreadPoolExecutor  # only when the index is asked: threads cost a start

            with ThreadPoolExecutor(max_workers=min(8, len(asked))) as pool:
                answers.update(zip(asked, pool.map(lambda key: self.vulnerabilities(*key), asked), strict=True))
        return {key: answers[key] for key in keys}

    def _vulnerabilities_url(self, name: str, version: str) -> str | None:
        base = self.pypi_url.rstrip("/")
        if not base.endswith("/simple"):
            return None
        return f"{base[: -len('/simple')]}/pypi/{normalize(name)}/{urllib.parse.quote(version)}/json"

    def _asks_for_vulnerabilities(self, name: str, version: str) -> bool:
        """Whether :meth:`vulnerabilities` would ask the index (no answer in the cache, not offline)."""
        url = self._vulnerabilities_url(name, version)
        if url is None or self.offline:
            return False
        return self.cache is None or self.cache.get(f"vulns {url}", allow_stale=False) is None

    # -- internals ----------------------------------------------------------------------------

    def _known(self, key: str, name: str) -> PackageInfo | None:
        """The answer already known for ``key`` (this run's, or the cache's), without asking the index."""
        if key in self._memo:
            return self._memo[key]
        entry = self.cache.get(key, allow_stale=self.offline) if self.cache else None
        if entry is not None:
            with contextlib.suppress(TypeError):
                info = PackageInfo(**{**entry, "name": name, "from_cache": True})
                self._memo[key] = info
                return info
        return None

    def _cached(self, key: str, ecosystem: str, name: str, url: str, fetch: Any) -> PackageInfo:
        known = self._known(key, name)
        if known is not None:
            return known
        if self.offline:
            info = PackageInfo(ecosystem, name, "not_checked", reason="offline and not in the cache", source=url)
        else:
            info = fetch(name, url)
            if info.state != "not_checked" and self.cache is not None:
                self.cache.put(key, info.to_dict())
        self._memo[key] = info
        return info

    def _get(self, url: str, accept: str) -> tuple[int, str, bytes]:
        import urllib.error
        import urllib.request  # here: a run that finds every answer in the cache never loads the HTTP client

        request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": _USER_AGENT})  # noqa: S310
        try:
            with _opener().open(request, timeout=self.timeout) as response:  # index URLs are http(s) by config
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", "") if exc.headers else "", b""

    def _document(self, ecosystem: str, name: str, url: str, accept: str) -> dict[str, Any] | PackageInfo:
        """The JSON object the index serves for ``name``, or the final answer when there is none to read."""
        now = time.time()
        what = "index" if ecosystem == "pypi" else "registry"

        def answer(state: State, reason: str = "") -> PackageInfo:
            fetched = now if state != "not_checked" else 0.0
            return PackageInfo(ecosystem, name, state, reason=reason, source=url, fetched_at=fetched)

        try:
            status, ctype, body = self._get(url, accept)
        except (OSError, ValueError) as exc:
            return answer("not_checked", f"{what} unreachable: {_why(exc)}")
        if status == 404:
            return answer("missing")
        if status != 200:
            return answer("not_checked", f"{what} answered HTTP {status}")
        if ecosystem == "pypi" and "json" not in ctype:
            # An index without PEP 691 (HTML only): the project exists, the details are unknown.
            return answer("exists", "index offers no JSON details")
        try:
            data = json.loads(body)
        except ValueError:
            return answer("not_checked", f"{what} sent malformed JSON")
        if not isinstance(data, dict):
            return answer("not_checked", f"{what} sent unexpected JSON")
        return data

    def _fetch_pypi(self, name: str, url: str) -> PackageInfo:
        data = self._document("pypi", name, url, f"{SIMPLE_JSON}, application/json;q=0.5, text/html;q=0.1")
        if isinstance(data, PackageInfo):
            return data
        now = time.time()
        files = [f for f in data.get("files") or [] if isinstance(f, dict)]
        uploads = sorted(str(f["upload-time"]) for f in files if f.get("upload-time"))
        versions = data.get("versions")
        version_list = [str(v) for v in versions] if isinstance(versions, list) else _versions_from_files(name, files)
        raw_status = data.get("project-status")
        project_status = raw_status.get("status") if isinstance(raw_status, dict) else None
        return PackageInfo(
            "pypi",
            name,
            "exists",
            first_upload=uploads[0] if uploads else None,
            versions=len(version_list) if version_list is not None else None,
            latest=_latest(version_list),
            status=str(project_status or "active"),
            all_yanked=bool(files) and all(bool(f.get("yanked")) for f in files),
            source=url,
            fetched_at=now,
        )

    def _fetch_npm(self, name: str, url: str) -> PackageInfo:
        data = self._document("npm", name, url, "application/json")
        if isinstance(data, PackageInfo):
            return data
        now = time.time()
        raw_times, raw_versions, raw_tags = data.get("time"), data.get("versions"), data.get("dist-tags")
        times: dict[str, Any] = raw_times if isinstance(raw_times, dict) else {}
        versions: dict[str, Any] = raw_versions if isinstance(raw_versions, dict) else {}
        latest = raw_tags.get("latest") if isinstance(raw_tags, dict) else None
        npm_status = "active"
        if times.get("unpublished"):
            npm_status = "unpublished"
        elif latest and isinstance(versions.get(latest), dict) and versions[latest].get("deprecated"):
            npm_status = "deprecated"
        return PackageInfo(
            "npm",
            name,
            "exists",
            first_upload=str(times["created"]) if times.get("created") else None,
            versions=len(versions),
            latest=str(latest) if latest else None,
            status=npm_status,
            source=url,
            fetched_at=now,
        )


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__


def _versions_from_files(name: str, files: list[dict[str, Any]]) -> list[str] | None:
    """Versions named by distribution file names, for indexes without PEP 700 ``versions``."""
    try:
        from packaging.utils import (
            InvalidSdistFilename,
            InvalidWheelFilename,
            parse_sdist_filename,
            parse_wheel_filename,
        )
    except ImportError:
        return None
    found: set[str] = set()
    for f in files:
        filename = str(f.get("filename", ""))
        try:
            if filename.endswith(".whl"):
                found.add(str(parse_wheel_filename(filename)[1]))
            elif filename.endswith((".tar.gz", ".zip")):
                found.add(str(parse_sdist_filename(filename)[1]))
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    return sorted(found)


def _latest(versions: list[str] | None) -> str | None:
    if not versions:
        return None
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return versions[-1]
    parsed = []
    for v in versions:
        with contextlib.suppress(InvalidVersion):
            parsed.append((Version(v), v))
    return max(parsed)[1] if parsed else versions[-1]
