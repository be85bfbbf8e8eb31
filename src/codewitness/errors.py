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
    copy of codewitness came (a checkout, a git URL, a wheel or an index; see :mod:`codewitness._install`).

    Args:
        extra: the name of the extra that provides it, e.g. ``"postgres"``; or, with ``package``,
            what to call the missing piece.
        feature: what the user tried to do.
        package: a package to install on its own instead of an extra (one no extra of ours holds).
    """

    def __init__(self, extra: str, feature: str, *, package: str | None = None) -> None:
        import shlex
        import sys

        from codewitness._install import install_command

        self.extra = extra
        if package is not None:
            command = f"{shlex.quote(sys.executable or 'python')} -m pip install {shlex.quote(package)}"
            super().__init__(f"{feature} needs {extra}: {command}")
        else:
            super().__init__(f'{feature} needs the "{extra}" extra: {install_command(extra)}')


class InvariantViolation(CodewitnessError):
    """A runtime invariant did not hold and its mode is ``raise`` (tests, staging).

    The message names the rule, the function, the inputs and the result. The runtime sensor
    lets this one exception through to the caller; every other error of ours is swallowed.
    """
