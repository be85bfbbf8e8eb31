"""Measure how codewitness reads a real repository's git-ai notes (``refs/notes/ai``).

Give it a clone or a bare mirror of a repository that carries git-ai notes (git-ai's own
repository has about 10,700). It prints two figures:

* **rejections**: git-ai notes that :func:`codewitness.attribution.gitai.parse_gitai` refuses,
  grouped by reason (the attestation key or problem, digits and hex folded so forms group);
* **agreement**: for every non-blank line of the files under ``--paths`` at ``--rev`` whose line
  comes (by ``git blame``) from a commit with a git-ai note, whether codewitness calls it AI exactly
  when the note does. "What the note says" is read here by a deliberately small reader of its own
  (any attestation key covers the line: ``h_...`` and ``human`` keys mean a person, every other key
  an agent; the last entry covering a line wins; lines no key covers are not AI), so the figure
  does not depend on the parser it checks.

A bare mirror is cloned with ``git clone --shared --no-checkout`` into a temporary folder (objects
are borrowed, nothing is written to the mirror) and the notes ref is fetched into the clone.

Run::

    python benchmarks/attribution/gitai_real.py /work/.mirror/git-ai-project+git-ai/repo
    python benchmarks/attribution/gitai_real.py PATH --paths src/authorship --paths src/commands
    python benchmarks/attribution/gitai_real.py PATH --json      # machine-readable figures
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from codewitness._git import CatFile, list_notes
from codewitness.attribution.blame import Attributor
from codewitness.attribution.gitai import GITAI_REF, parse_gitai
from codewitness.attribution.notes import NoteError


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def _working_clone(source: Path, into: Path) -> Path:
    """A non-bare repository to attribute: ``source`` itself, or a shared clone of a bare mirror."""
    bare = _git(source, "rev-parse", "--is-bare-repository").strip() == "true"
    if not bare:
        return source
    target = into / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--shared", "--no-checkout", str(source), str(target)], check=True, capture_output=True
    )
    _git(target, "fetch", "-q", "origin", f"+{GITAI_REF}:{GITAI_REF}")
    return target


def _fold(reason: str) -> str:
    # Group "unknown attestation key '0148017'" with its kin: hex and digits folded.
    reason = re.sub(r"line \d+", "line N", reason)
    return re.sub(r"'([^']*)'", lambda m: "'" + re.sub(r"[0-9a-f]", "x", m.group(1)) + "'", reason)


def read_notes(root: Path) -> dict[str, str]:
    """Every git-ai note's text by commit."""
    out: dict[str, str] = {}
    with CatFile(root) as cat:
        for commit, blob in list_notes(root, GITAI_REF).items():
            got = cat.read(blob)
            if got is not None:
                out[commit] = got[1].decode("utf-8", "replace")
    return out


def rejections(notes: dict[str, str]) -> Counter[str]:
    """Notes :func:`parse_gitai` refuses, by folded reason."""
    found: Counter[str] = Counter()
    for text in notes.values():
        try:
            parse_gitai(text)
        except NoteError as exc:
            found[_fold(str(exc))] += 1
    return found


def note_says(text: str) -> dict[str, dict[int, bool]]:
    """The reference reading: path -> line -> True (agent) / False (person), last entry wins."""
    lines = text.split("\n")
    cut = next((i for i, line in enumerate(lines) if line.rstrip("\r") == "---"), len(lines))
    out: dict[str, dict[int, bool]] = {}
    current: dict[int, bool] | None = None
    for line in lines[:cut]:
        line = line.rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            path = line[1:-1] if len(line) > 1 and line[0] == line[-1] == '"' else line
            current = out.setdefault(path, {})
            continue
        if current is None:
            continue
        key, _, ranges = line.strip().partition(" ")
        ai = not (key.startswith("h_") or key == "human")
        for part in filter(None, ranges.split(",")):
            first, _, last = part.partition("-")
            for number in range(int(first), int(last or first) + 1):
                current[number] = ai
    return out


def agreement(root: Path, rev: str, paths: list[str], notes: dict[str, str]) -> dict[str, object]:
    """Compare codewitness's line origins with the reference reading of the notes."""
    said: dict[str, dict[str, dict[int, bool]]] = {}
    compared = agreed = ai_by_note = ai_by_us = no_note = 0
    disagreements: Counter[str] = Counter()
    by_evidence: Counter[str] = Counter()
    with Attributor(root, rev) as engine:
        entries = [e for e in engine.files(paths) if not (e.is_submodule or e.is_symlink)]
        for fa in engine.attribute(entries):
            for line in fa.lines:
                if not line.text.strip():
                    continue
                text = notes.get(line.commit)
                if text is None:
                    no_note += 1
                    continue
                reading = said.get(line.commit)
                if reading is None:
                    reading = said[line.commit] = note_says(text)
                reference = reading.get(line.orig_path, {}).get(line.orig_line, False)
                ours = line.origin.kind in ("ai", "mixed")
                compared += 1
                ai_by_note += reference
                ai_by_us += ours
                by_evidence[line.origin.evidence] += 1
                if ours == reference:
                    agreed += 1
                else:
                    disagreements[f"note {'AI' if reference else 'not AI'}, ours {line.origin.kind}"] += 1
        warnings = dict(engine.warnings)
    corrupt = sum(n for msg, n in warnings.items() if "corrupt git-ai note" in msg)
    return {
        "files": len(entries),
        "lines_compared": compared,
        "lines_without_note": no_note,
        "agreed": agreed,
        "agreement": round(agreed / compared, 4) if compared else None,
        "ai_lines_by_note": ai_by_note,
        "ai_lines_by_codewitness": ai_by_us,
        "disagreements": dict(disagreements.most_common()),
        "evidence_of_compared_lines": dict(by_evidence.most_common()),
        "corrupt_note_warnings_during_attribution": corrupt,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repository", type=Path, help="a clone or bare mirror with refs/notes/ai")
    parser.add_argument("--rev", default="HEAD", help="revision to attribute (default HEAD)")
    parser.add_argument("--paths", action="append", default=None, help="files/folders to compare (default src)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    paths = args.paths or ["src"]
    with tempfile.TemporaryDirectory(prefix="cw-gitai-") as tmp:
        root = _working_clone(args.repository.resolve(), Path(tmp))
        started = time.perf_counter()
        notes = read_notes(root)
        rejected = rejections(notes)
        parsed = time.perf_counter()
        figures = agreement(root, args.rev, paths, notes)
        done = time.perf_counter()
        head = _git(root, "rev-parse", args.rev).strip()
    result = {
        "repository": str(args.repository),
        "revision": head,
        "paths": paths,
        "notes": len(notes),
        "rejected": sum(rejected.values()),
        "rejected_by_reason": dict(rejected.most_common()),
        **figures,
        "seconds_parsing_notes": round(parsed - started, 2),
        "seconds_attributing": round(done - parsed, 2),
    }
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"revision {head[:12]}, {len(notes)} git-ai notes")
    print(f"rejected: {result['rejected']}")
    for reason, count in rejected.most_common(12):
        print(f"  {count:6d}  {reason}")
    print(
        f"agreement on {', '.join(paths)}: {figures['agreed']}/{figures['lines_compared']} lines "
        f"= {100 * (figures['agreement'] or 0):.2f}% ({figures['files']} files; "
        f"{figures['lines_without_note']} lines from commits without a git-ai note not compared)"
    )
    print(f"  AI lines: note {figures['ai_lines_by_note']}, codewitness {figures['ai_lines_by_codewitness']}")
    for what, count in figures["disagreements"].items():  # type: ignore[attr-defined]
        print(f"  {count:6d}  {what}")
    print(f"  evidence: {figures['evidence_of_compared_lines']}")
    print(f"time: notes {result['seconds_parsing_notes']}s, attribution {result['seconds_attributing']}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
