"""Atomic writes: whole files or none, never through a planted link, with the mode asked for."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codewitness._files import write_atomically
from codewitness.attribution.manifest import write_manifest
from codewitness.model import Manifest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_files_are_the_owners_and_others_follow_the_umask(tmp_path: Path) -> None:
    write_atomically(tmp_path / "deep" / "private.json", "{}", private=True)
    assert _mode(tmp_path / "deep" / "private.json") == 0o600
    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / "shared.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "shared.json") == 0o644
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "private.json", "shared.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "new \udcff\n")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["cache.json"]


def test_a_link_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (tmp_path / "repo").mkdir()
    link = tmp_path / "repo" / "manifest.json"
    link.symlink_to(outside)
    write_atomically(link, "new\n")
    assert outside.read_text() == "keep\n" and not link.is_symlink() and link.read_text() == "new\n"


def test_the_manifest_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    # Its temporary name used to be predictable (.manifest.json.<pid>.tmp) and was opened following links.
    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    folder = tmp_path / ".codewitness"
    folder.mkdir()
    (folder / f".manifest.json.{os.getpid()}.tmp").symlink_to(outside)
    manifest = Manifest(revision="a" * 40, functions=())
    write_manifest(manifest, folder / "manifest.json")
    assert outside.read_text() == "keep\n"
    assert '"functions": []' in (folder / "manifest.json").read_text()
