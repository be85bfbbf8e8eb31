"""Popular PyPI project names, and how close a name comes to one of them (typosquatting).

A snapshot of the 15,000 most-downloaded PyPI projects ships with codewitness
(``checks/data/popular-pypi.tsv``, with its source and date in its header). ``codewitness deps
refresh-popular`` writes a fresher one to ``.codewitness/cache/popular-pypi.tsv``, which is then
preferred. Reading a snapshot (15,000 names to normalise) takes longer than a warm run of the gate on
a small project spends on anything else, so the names are kept, read, in ``.codewitness/cache/popular.json``
while the snapshot file keeps its path, size and modification time.

Example:
    >>> snap = load_popular()
    >>> snap.rank("requests") is not None
    True
    >>> near = snap.closest("reqeusts")
    >>> (near.name, near.kind)
    ('requests', 'swapped')
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from codewitness.checks.index import normalize
from codewitness.errors import InputError, MissingExtraError

__all__ = ["Near", "PopularNames", "fetch_ranking", "kept_path", "load_popular", "refreshed_path", "write_snapshot"]

#: Only names at least this long are compared: short names collide by chance.
_MIN_LENGTH = 4
#: Only the most popular projects are worth imitating.
_TARGET_RANK = 5000


@dataclass(frozen=True)
class Near:
    """A popular name that ``asked`` is one small edit away from.

    Attributes:
        name: the popular project.
        rank: its download rank (1 = most downloaded).
        kind: ``separators``, ``swapped``, ``repeated``, ``omitted`` or ``substituted``.
    """

    name: str
    rank: int
    kind: str


class PopularNames:
    """A ranking of popular names.

    Args:
        ranks: normalised name -> rank.
        source: where the ranking came from (from the file header).
        date: when it was taken.
    """

    def __init__(self, ranks: dict[str, int], source: str, date: str) -> None:
        self.ranks = ranks
        self.source = source
        self.date = date
        #: :meth:`closest`'s answers so far (a function of the ranking and the name), kept with a kept snapshot.
        self.near: dict[str, Near | None] = {}
        self._kept: tuple[Path, list[Any]] | None = None
        self._learnt = False

    @cached_property
    def _targets(self) -> list[str]:
        return [n for n, r in sorted(self.ranks.items(), key=lambda kv: kv[1]) if r <= _TARGET_RANK]

    @cached_property
    def _squashed(self) -> dict[str, str]:
        return {n.replace("-", ""): n for n in self._targets}

    def rank(self, name: str) -> int | None:
        """The rank of ``name``, or ``None`` when it is not in the snapshot."""
        return self.ranks.get(normalize(name))

    def closest(self, name: str) -> Near | None:
        """The popular name ``name`` imitates, if it is one edit (or only separators) away.

        Names in the snapshot themselves never count as imitations.
        """
        asked = normalize(name)
        if asked in self.ranks or len(asked) < _MIN_LENGTH:
            return None
        if asked not in self.near:
            self.near[asked] = self._closest(asked)
            self._learnt = True
        return self.near[asked]

    def keep(self) -> None:
        """Keep :attr:`near` with the kept snapshot it was worked out on, when new names were looked up (so a
        later run answers them without loading the edit-distance library)."""
        if self._kept is None or not self._learnt:
            return
        cache_file, key = self._kept
        _write_kept(cache_file, key, self)
        self._learnt = False

    def _closest(self, asked: str) -> Near | None:
        squashed = asked.replace("-", "")
        if squashed in self._squashed:
            target = self._squashed[squashed]
            return Near(target, self.ranks[target], "separators")
        try:
            from rapidfuzz import process
            from rapidfuzz.distance import OSA
        except ImportError:
            raise MissingExtraError("check", "Typosquat detection") from None
        hit = process.extractOne(asked, self._targets, scorer=OSA.distance, score_cutoff=1)
        if hit is None:
            return None
        target = hit[0]
        if len(target) < _MIN_LENGTH:
            return None
        return Near(target, self.ranks[target], _edit_kind(asked, target))


def _edit_kind(asked: str, target: str) -> str:
    if len(asked) == len(target):
        diffs = [i for i, (a, b) in enumerate(zip(asked, target, strict=True)) if a != b]
        if len(diffs) == 2 and diffs[1] == diffs[0] + 1:
            return "swapped"
        return "substituted"
    if len(asked) > len(target):
        extra = next((i for i, (a, b) in enumerate(zip(asked, target, strict=False)) if a != b), len(target))
        return "repeated" if extra > 0 and asked[extra] == asked[extra - 1] else "inserted"
    return "omitted"


def refreshed_path(root: Path) -> Path:
    """Where ``deps refresh-popular`` keeps the fresher snapshot of a project."""
    return root / ".codewitness" / "cache" / "popular-pypi.tsv"


def kept_path(root: Path) -> Path:
    """Where the names of the snapshot in use are kept, read (see the module docstring)."""
    return root / ".codewitness" / "cache" / "popular.json"


def load_popular(root: Path | None = None) -> PopularNames:
    """The refreshed snapshot of ``root`` if there is one, else the shipped one (kept read in ``root``'s cache)."""
    if root is None:
        return _shipped()
    refreshed = refreshed_path(root)
    if refreshed.is_file():
        return _kept(kept_path(root), refreshed)
    beside = Path(__file__).parent / "data" / "popular-pypi.tsv"  # what importlib.resources finds, without loading it
    if beside.is_file():
        return _kept(kept_path(root), beside)
    shipped = _shipped_folder().joinpath("data/popular-pypi.tsv")
    if isinstance(shipped, Path):
        return _kept(kept_path(root), shipped)
    return _shipped()  # inside a zip: no file to key a copy by


#: Bumped when :func:`_parse` reads a snapshot differently, so kept names are read again.
_KEPT_VERSION = 1


def _kept(cache_file: Path, snapshot: Path) -> PopularNames:
    """The snapshot's names, from ``cache_file`` while it holds those of this snapshot file as it is now."""
    info = snapshot.stat()
    key = [_KEPT_VERSION, str(snapshot), info.st_size, info.st_mtime_ns]
    popular: PopularNames | None = None
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError, AttributeError, TypeError, KeyError):
        kept = json.loads(cache_file.read_text(encoding="utf-8"))
        if kept.get("key") == key and isinstance(kept.get("ranks"), dict):
            popular = PopularNames(kept["ranks"], str(kept["source"]), str(kept["date"]))
            popular.near = {
                str(name): None if near is None else Near(str(near[0]), int(near[1]), str(near[2]))
                for name, near in (kept.get("near") or {}).items()
            }
    if popular is None:
        popular = _parse(snapshot.read_text(encoding="utf-8"))
        _write_kept(cache_file, key, popular)
    popular._kept = (cache_file, key)
    return popular


def _write_kept(cache_file: Path, key: list[Any], popular: PopularNames) -> None:
    near = {name: None if n is None else [n.name, n.rank, n.kind] for name, n in popular.near.items()}
    payload = {"key": key, "source": popular.source, "date": popular.date, "ranks": popular.ranks, "near": near}
    from codewitness._files import write_atomically

    with contextlib.suppress(OSError):  # a copy that cannot be kept only costs the next run the parse
        write_atomically(cache_file, json.dumps(payload, separators=(",", ":")), private=True)


@lru_cache(maxsize=1)
def _shipped_folder() -> Any:
    """The package's own data (a folder, or a place in a zip); ``importlib.resources`` is loaded on first use."""
    from importlib import resources

    return resources.files("codewitness.checks")


@lru_cache(maxsize=1)
def _shipped() -> PopularNames:
    return _parse(_shipped_folder().joinpath("data/popular-pypi.tsv").read_text(encoding="utf-8"))


def _parse(text: str) -> PopularNames:
    ranks: dict[str, int] = {}
    meta = {"source": "unknown", "date": "unknown"}
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and key.strip() in meta:
                meta[key.strip()] = value.strip()
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].isdigit():
            continue  # the header row, or a damaged line
        # rank, name, and any further columns a ranking may carry (downloads, say): ignored.
        ranks.setdefault(normalize(fields[1].strip()), int(fields[0]))
    return PopularNames(ranks, meta["source"], meta["date"])


def fetch_ranking(url: str, timeout: float = 30.0) -> list[str]:
    """Download a ranking in the top-pypi-packages JSON shape (``{"rows": [{"project": ...}, ...]}``).

    Returns:
        Project names, most downloaded first.

    Raises:
        InputError: the URL cannot be fetched or does not hold such a ranking.
    """
    if not url.startswith(("http://", "https://")):
        raise InputError(f"ranking URL must be http(s), got {url!r}")
    import urllib.error
    import urllib.request  # here: checking names against a snapshot needs no HTTP client

    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            body = response.read()
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # an error status holds the response open
        raise InputError(f"cannot fetch the ranking from {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        data = json.loads(body)
        rows = data["rows"]
        names = [str(row["project"]) for row in rows]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{url} is not a ranking: expected JSON with rows of {{'project': name}}") from None
    if not names:
        raise InputError(f"{url} holds an empty ranking; keeping the current snapshot")
    return names


def write_snapshot(path: Path, names: list[str], source: str) -> None:
    """Write a ranking as a snapshot file (rank, name), recording its source and today's date."""
    lines = [
        "# Popular PyPI project names with their download rank (1 = most downloaded).",
        f"# source: {source}",
        f"# date: {datetime.now(UTC).date().isoformat()}",
        "rank\tname",
    ]
    lines += [f"{rank}\t{name}" for rank, name in enumerate(names, start=1)]
    from codewitness._files import write_atomically

    write_atomically(path, "\n".join(lines) + "\n", private=True)
