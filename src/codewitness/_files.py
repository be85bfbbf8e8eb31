"""Writing a file so that a reader never sees half of it, and never through a planted link.

Example:
    >>> write_atomically(Path(".codewitness/manifest.json"), text)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from codewitness._statedir import make_dirs

__all__ = ["write_atomically"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_atomically(path: str | os.PathLike[str], text: str, *, private: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8): written to a new file beside it, then renamed over it.

    The new file gets a name nobody can predict and is created exclusively, so a link planted in
    the folder is never written through; the rename replaces a link at ``path`` itself rather
    than following it. When anything fails, ``path`` keeps its old content and no new file stays.

    Args:
        path: the file to replace (its folder is created when missing, owner-only when ``private``;
            a ``.codewitness`` folder made here goes into the ``.gitignore`` beside it).
        text: the whole new content.
        private: owner-only (mode 0600); otherwise the umask decides, as for any new file.

    Raises:
        OSError: the folder cannot be written.
        UnicodeEncodeError: ``text`` holds what UTF-8 cannot encode (a lone surrogate).
    """
    folder, name = os.path.split(os.fspath(path))
    if folder:
        make_dirs(Path(folder), 0o700 if private else 0o777)
    aside = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    fd = os.open(aside, _FLAGS, 0o600 if private else 0o666)
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(aside, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(aside)
        raise
