"""How this copy of codewitness was installed, to say how to add an extra to it.

A hint such as ``pip install "codewitness[server]"`` only works once the package is on an index
the user's pip reads. A copy installed from a checkout, a git URL or a wheel file says where it
came from in its ``direct_url.json`` (PEP 610); :func:`install_command` builds the command that
installs the extra from the same place, into the same interpreter. Standard library only (the
runtime sensor's errors use it too).

Example:
    >>> install_command("server")  # doctest: +SKIP
    "/srv/app/.venv/bin/python -m pip install '/home/dana/src/codewitness[server]'"
"""

from __future__ import annotations

import json
import shlex
import sys
from importlib import metadata
from typing import Any
from urllib.parse import unquote, urlparse

__all__ = ["install_command", "install_source"]


def _direct_url(dist: metadata.Distribution | None) -> dict[str, Any] | None:
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
    args = [sys.executable or "python", "-m", "pip", "install", *install_source(extra)]
    return " ".join(shlex.quote(a) for a in args)
