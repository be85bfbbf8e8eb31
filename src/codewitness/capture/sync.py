"""Sharing notes with a team: each remote's notes tracked apart, merged in, pushed with every push.

The notes ref is a history of its own. Fetching a remote's notes straight over the local ref (a
forced ``+refs/notes/codewitness:refs/notes/codewitness`` refspec) would drop the notes of commits
not pushed yet, and pushing fails whenever a teammate or CI pushed notes first. So:

* ``git fetch`` puts a remote's notes in a tracking ref, ``refs/notes/remotes/<remote>/codewitness``
  (:func:`fetch_refspec`); readers (the blame engine) see them at once, after local notes;
* :func:`merge_remote_notes` merges every tracking ref into the local notes (``git notes merge -s
  ours``: a commit noted on both sides keeps the local note). The ``post-merge`` hook runs it after a
  ``git pull``; ``codewitness doctor --fix`` too;
* :func:`push_notes` is the ``pre-push`` hook: a ``git push origin feature`` names its refs, so the
  configured push refspec would not send the notes; the hook pushes them itself (``--no-verify``),
  and when the remote has notes it lacks, fetches, merges and pushes once more. It never stops the
  user's push.

Example:
    >>> fetch_refspec("origin")
    '+refs/notes/codewitness:refs/notes/remotes/origin/codewitness'
"""

from __future__ import annotations

from pathlib import Path

from codewitness import _git
from codewitness.attribution.notes import NOTES_REF, TRACKING_PATTERN, tracking_ref

__all__ = [
    "LEGACY_FETCH_REFSPEC",
    "fetch_notes",
    "fetch_refspec",
    "merge_remote_notes",
    "publish_notes",
    "push_enabled",
    "push_notes",
    "tracking_ref",
]

#: What ``codewitness init`` set before notes were tracked per remote: it overwrote local notes.
LEGACY_FETCH_REFSPEC = f"+{NOTES_REF}:{NOTES_REF}"


def push_enabled(root: Path) -> bool:
    """``capture.push_notes`` of the project (true unless set false; a broken configuration pushes as before)."""
    from codewitness.config import load_config
    from codewitness.errors import ConfigError

    try:
        return load_config(root).config.capture.push_notes
    except ConfigError:
        return True


def fetch_refspec(remote: str) -> str:
    """The fetch refspec that keeps ``remote``'s notes in its tracking ref."""
    return f"+{NOTES_REF}:{tracking_ref(remote)}"


def fetch_notes(root: Path, remote: str) -> bool:
    """Fetch ``remote``'s notes into its tracking ref; False when the remote has none or cannot be reached."""
    return _git.fetch_ref(root, remote, NOTES_REF, tracking_ref(remote))


def merge_remote_notes(root: Path) -> list[str]:
    """Merge every remote's tracked notes into the local notes; returns the refs that brought something.

    Raises:
        GitError: git failed to merge.
    """
    merged = []
    local = _git.resolve(root, NOTES_REF, commit=False)
    for ref, tip in sorted(_git.for_each_ref(root, TRACKING_PATTERN).items()):
        if local is not None and _git.is_ancestor(root, tip, local):
            continue  # nothing new there
        _git.merge_notes(root, NOTES_REF, ref)
        local = _git.resolve(root, NOTES_REF, commit=False)
        merged.append(ref)
    return merged


def push_notes(root: Path, remote: str, pushed: str) -> str:
    """The ``pre-push`` hook: send the local notes to ``remote`` along with the user's push.

    Args:
        root: the repository.
        remote: the remote's name as git passes it (a URL when the push named no remote: then
            nothing is done, since there is no tracking ref to keep).
        pushed: the hook's standard input, one ``<local ref> <sha> <remote ref> <sha>`` per line.

    Returns:
        What happened, for the hook log.
    """
    if not push_enabled(root):
        return "capture.push_notes is false: notes not pushed"
    if remote not in _git.remotes(root):
        return f"push to {remote}: not a configured remote, notes not pushed"
    if any(line.split()[:1] == [NOTES_REF] for line in pushed.splitlines()):
        return "the push carries the notes already"
    if _git.resolve(root, NOTES_REF, commit=False) is None:
        return "no local notes to push"
    return publish_notes(root, remote)


def publish_notes(root: Path, remote: str, *, attempts: int = 3) -> str:
    """Push the local notes to ``remote``, first merging what was fetched; when the remote has notes
    this clone lacks (someone pushed meanwhile), fetch, merge and try again, up to ``attempts`` times.

    Returns:
        What happened, in one line.
    """
    merge_remote_notes(root)
    error = ""
    for attempt in range(attempts):
        ok, error = _git.push_ref(root, remote, f"{NOTES_REF}:{NOTES_REF}")
        if ok:
            return f"notes pushed to {remote}" if attempt == 0 else f"notes merged with {remote}'s and pushed"
        if not fetch_notes(root, remote):
            break
        merge_remote_notes(root)
    return f"notes not pushed to {remote}: {error}"
