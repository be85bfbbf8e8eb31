"""Reading a file without ever blocking and never past a size limit.

A FIFO, a device (``/dev/zero``) or a socket is opened non-blocking, looked at with ``fstat`` and
refused; a regular file is read up to its limit, even one that grows meanwhile. Standard library
only: the agent hook's lean path and the configuration (which the sensor imports) read with it.

Example:
    >>> data, problem = read_bytes("pyproject.toml", 1 << 20)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import stat

__all__ = ["read_bytes", "read_tail"]


#: Opening a FIFO or a device must not wait for a writer; what was opened is checked with fstat.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_bytes(path: str | os.PathLike[str], max_bytes: int, *, follow: bool = True) -> tuple[bytes | None, str | None]:
    """``(data, None)`` for a regular file of at most ``max_bytes``; ``(None, None)`` when it does not
    exist; ``(None, reason)`` otherwise. Never blocks: a FIFO, a device (``/dev/zero``) or a
    socket is refused once opened (non-blocking) and looked at with ``fstat``, and no more than
    ``max_bytes + 1`` bytes are ever read, even from a file that grows while it is read.

    Args:
        path: the file.
        max_bytes: the size limit.
        follow: when false, a symbolic link in the last component is refused (``O_NOFOLLOW``).
    """
    flags = _OPEN_FLAGS | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > max_bytes:
            return None, f"{info.st_size} bytes is over the {max_bytes} byte limit"
        data = _read_up_to(fd, max_bytes + 1)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return None, f"over the {max_bytes} byte limit (it grew while being read)"
    return data, None


def read_tail(path: str | os.PathLike[str], size: int) -> tuple[bytes, bool]:
    """The last ``size`` bytes of a regular file, and whether that is the whole file.

    Raises:
        OSError: the file cannot be opened, or is not a regular file (opened non-blocking, so a
            FIFO is refused rather than waited on).
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{os.fspath(path)!r} is not a regular file")
        total = info.st_size
        os.lseek(fd, max(0, total - size), os.SEEK_SET)
        return _read_up_to(fd, min(size, total)), total <= size
    finally:
        os.close(fd)


def _read_up_to(fd: int, size: int) -> bytes:
    """At most ``size`` bytes from ``fd``, fewer at its end (even for a file that grows meanwhile)."""
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
