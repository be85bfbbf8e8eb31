"""The one exception hierarchy of codewitness.

Every error we raise on purpose derives from :class:`CodewitnessError`. Each class carries
the process exit code the CLI uses for it, and its message is one line a person can act on::

    CodewitnessError            exit 1   something failed; the message says what to do
    ├── UsageError              exit 2   the user asked for something malformed
    │   ├── ConfigError         exit 2   a config file or CODEWITNESS_* variable is wrong
    │   └── InputError          exit 2   a file or value given on the command line is unusable
    ├── NotFoundError           exit 1   an id, revision or name that does not exist
    ├── StoreError              exit 1   the database cannot be opened, migrated or written
    ├── GitError                exit 1   git is missing or a git command failed
    ├── MissingExtraError       exit 1   an optional dependency is not installed
    └── InvariantViolation      exit 1   a runtime invariant broke in ``raise`` mode

Example:
    >>> try:
    ...     raise NotFoundError("no generation gen_123; list them with `codewitness generations list`")
    ... except CodewitnessError as exc:
    ...     exc.exit_code
    1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib import metadata

__all__ = [
    "CodewitnessError",
    "ConfigError",
    "GitError",
    "InputError",
    "InvariantViolation",
    "MissingExtraError",
    "NotFoundError",
    "StoreError",
    "UsageError",
]


class CodewitnessError(Exception):
    """Base of every error codewitness raises on purpose."""

    exit_code: int = 1


class UsageError(CodewitnessError):
    """The user asked for something malformed (bad option value, wrong argument shape)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file, key or environment variable is unknown or has a bad value."""


class InputError(UsageError):
    """An input file or value cannot be used (missing, not UTF-8, not parseable)."""


class NotFoundError(CodewitnessError):
    """An id, revision, prompt name or file that does not exist."""


class StoreError(CodewitnessError):
    """The database cannot be opened, upgraded or written."""


class GitError(CodewitnessError):
    """git is not installed, this is not a repository, or a git command failed."""


class MissingExtraError(CodewitnessError):
    """An optional dependency group is not installed.

    The message names the command that installs it into the running interpreter, from where this
    copy of codewitness came (a checkout, a git URL, a wheel or an index; see :func:`install_command`).

    Args:
        extra: the name of the extra that provides it, e.g. ``"postgres"``; or, with ``package``,
            what to call the missing piece.
        feature: what the user tried to do.
        package: a package to install on its own instead of an extra (one no extra of ours holds).
    """

    def __init__(self, extra: str, feature: str, *, package: str | None = None) -> None:
        self.extra = extra
        if package is not None:
            import shlex
            import sys

            command = f"{shlex.quote(sys.executable or 'python')} -m pip install {shlex.quote(package)}"
            super().__init__(f"{feature} needs {extra}: {command}")
        else:
            super().__init__(f'{feature} needs the "{extra}" extra: {install_command(extra)}')


class InvariantViolation(CodewitnessError):
    """A runtime invariant did not hold and its mode is ``raise`` (tests, staging).

    The message names the rule, the function, the inputs and the result. The runtime sensor
    lets this one exception through to the caller; every other error of ours is swallowed.
    """


# -- how this copy was installed, for the hint of a missing extra ------------------------------
#
# A hint such as ``pip install "codewitness[server]"`` only works once the package is on an index
# the user's pip reads. A copy installed from a checkout, a git URL or a wheel file says where it
# came from in its ``direct_url.json`` (PEP 610); :func:`install_command` builds the command that
# installs the extra from the same place, into the same interpreter. Standard library only: the
# runtime sensor imports this module.


def _direct_url(dist: metadata.Distribution | None) -> dict[str, Any] | None:
    # Imported here: every process that imports this module (the sensor's hosts, the CLI's fast
    # path) pays for importlib.metadata only when an extra is missing.
    import json
    from importlib import metadata

    try:
        text = (dist or metadata.distribution("codewitness")).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


def install_source(extra: str | None = None, dist: metadata.Distribution | None = None) -> list[str]:
    """The ``pip install`` arguments that install codewitness (with ``extra``) from where this copy came.

    A local folder (a checkout, editable or not) is named by its path; a git checkout by its URL
    and commit; a wheel or archive by its URL; anything else (an index) by the name.

    Args:
        extra: the extra to add, e.g. ``"server"``.
        dist: the installed distribution to read (default: the one this interpreter imports).
    """
    from urllib.parse import unquote, urlparse

    suffix = f"[{extra}]" if extra else ""
    data = _direct_url(dist)
    if data is None:
        return [f"codewitness{suffix}"]
    url: str = data["url"]
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("requested_revision") or vcs.get("commit_id")
        return [f"codewitness{suffix} @ {vcs.get('vcs', 'git')}+{url}" + (f"@{commit}" if commit else "")]
    parsed = urlparse(url)
    if parsed.scheme == "file" and isinstance(data.get("dir_info"), dict):
        folder = unquote(parsed.path)
        editable = bool(data["dir_info"].get("editable"))
        return ["-e", f"{folder}{suffix}"] if editable else [f"{folder}{suffix}"]
    return [f"codewitness{suffix} @ {url}"]


def install_command(extra: str | None = None) -> str:
    """A shell command installing codewitness with ``extra`` into this interpreter, from where it came."""
    import shlex
    import sys

    args = [sys.executable or "python", "-m", "pip", "install", *install_source(extra)]
    return " ".join(shlex.quote(a) for a in args)
