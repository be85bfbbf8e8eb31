"""How much AI attribution survives the ways pull requests reach main.

Replays merged pull requests of a repository — a real one (``--repo``: any clone with "Merge pull
request #N" merge commits, e.g. a mirror of pallets/flask) or a generated history of the same
shapes — through each way code lands, and counts, of the AI-written lines of the pull request's
final state that reach main unchanged as text, how many keep their attribution (AI, same
generations) on main. The goal is all of them; a person's line that comes out AI counts as wrong.

Per pull request (merge commit ``M``: main before ``M^1``, branch head ``M^2``):

1. its branch commits get notes (a seeded share of their added runs of lines is AI, the rest a
   person's), as the post-commit hook would have written them;
2. each flow lands the branch on ``M^1`` in a clone with codewitness's git hooks installed:

   ``merge``         ``git merge --no-ff`` (post-merge hook);
   ``squash``        ``git merge --squash`` and ``git commit -m`` (prepare-commit-msg, post-commit);
   ``rebase``        ``git rebase --force-rebase`` of the branch onto ``M^1`` (post-rewrite);
   ``cherry-pick``   ``git cherry-pick`` of each branch commit (post-commit);
   ``forge-squash``  a squash commit made without hooks, as GitHub makes it (``Title (#N)``), then
                     ``codewitness notes consolidate`` with ``refs/pull/N/head`` present;
   ``forge-squash-noref`` the same without the pull request ref (found by the notes' content);
   ``forge-rebase``  the rebase made without hooks, then ``notes consolidate --since M^1``;
   ``forge-merge``   the merge commit made without hooks, then ``notes consolidate``.

   A conflict in ``merge`` or ``squash`` is resolved with the real merge's tree; ``rebase`` and
   ``cherry-pick`` flows that conflict are skipped and counted;
3. blame with notes at the branch head and at the landed commit; the lines the pull request's own
   commits wrote, paired unchanged by a line diff, are compared. For the forge flows the landed
   commit is also measured before ``notes consolidate`` runs (the "without" column: what main
   knew before this existed).

Run it::

    .venv/bin/python benchmarks/attribution_survival.py                     # generated history
    .venv/bin/python benchmarks/attribution_survival.py --repo /path/to/flask --prs 12

Nothing of the replayed repository is kept: the work happens in a temporary clone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codewitness import _git
from codewitness.attribution.blame import Attributor
from codewitness.attribution.consolidate import consolidate
from codewitness.attribution.notes import NOTES_REF, CommitNote, NoteEntry, compact_lines
from codewitness.capture.checkpoint import pair_lines
from codewitness.capture.setup import install
from codewitness.errors import CodewitnessError

FLOWS = (
    "merge",
    "squash",
    "rebase",
    "cherry-pick",
    "forge-squash",
    "forge-squash-noref",
    "forge-rebase",
    "forge-merge",
)
AI_SHARE = 0.6  # of each branch commit's added runs of lines


class Conflict(Exception):
    """The flow stopped at a conflict it does not resolve."""


def git(root: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])} failed: {proc.stderr.strip()[-400:]}")
    return proc.stdout


NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


@dataclass(frozen=True)
class PullRequest:
    number: int
    merge: str
    base: str  # M^1
    head: str  # M^2
    commits: tuple[str, ...]  # oldest first
    title: str


@dataclass
class Tally:
    ai_as_text: int = 0  # AI lines of the branch head that reach main unchanged
    ai_kept: int = 0  # ... and are AI on main with the same generations
    human_as_text: int = 0
    human_made_ai: int = 0
    runs: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def share(self) -> float:
        return self.ai_kept / self.ai_as_text if self.ai_as_text else 1.0


# -- the history ------------------------------------------------------------------------------------


def pull_requests(root: Path, limit: int, *, max_commits: int, max_files: int) -> list[PullRequest]:
    """The newest merged pull requests whose branch is linear and small enough."""
    found: list[PullRequest] = []
    log = git(root, "log", "--first-parent", "--merges", "--format=%H %P%x09%s", "HEAD")
    for line in log.splitlines():
        shas, _, subject = line.partition("\t")
        parts = shas.split()
        if len(parts) != 3 or not subject.startswith("Merge pull request #"):
            continue
        merge, base, head = parts
        commits = git(root, "rev-list", "--reverse", "--topo-order", head, "--not", base).split()
        if not commits or len(commits) > max_commits:
            continue
        if git(root, "rev-list", "--merges", head, "--not", base).strip():
            continue  # the branch merged main in: rebase and cherry-pick flows do not apply
        files = git(root, "diff", "--name-only", f"{base}...{head}").split()
        if not files or len(files) > max_files:
            continue
        number = int(subject.split("#", 1)[1].split()[0])
        title = git(root, "log", "-1", "--format=%s", commits[-1]).strip()
        found.append(PullRequest(number, merge, base, head, tuple(commits), title))
        if len(found) >= limit:
            break
    return found


def generate(root: Path, count: int, seed: int) -> None:
    """A history of ``count`` pull requests merged with "Merge pull request #N" commits.

    Each branch has 1-3 commits that rewrite, add, move (to another file) and rename code; main
    gains an unrelated commit while the branch is open.
    """
    rng = random.Random(seed)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Dana Developer")
    git(root, "config", "user.email", "dana@example.com")
    modules = [f"pkg/mod{i}.py" for i in range(10)]
    counter = iter(range(10**6))

    def function(name: str, lines: int) -> list[str]:
        body = [f"    value_{next(counter)} = compute_{name}(argument, step={k})" for k in range(lines)]
        return [f"def {name}(argument):", *body, "    return argument", "", ""]

    def write(path: str, lines: list[str]) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")

    def read(path: str) -> list[str]:
        return (root / path).read_text().split("\n")[:-1]

    def commit(message: str) -> None:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", message)

    for path in modules:
        write(path, [line for k in range(6) for line in function(f"f{next(counter)}", rng.randint(2, 6))])
    commit("initial")
    for number in range(1, count + 1):
        git(root, "checkout", "-q", "-b", f"pr{number}", "main")
        touched = rng.sample(modules, 3)
        for step in range(rng.randint(1, 3)):
            path = touched[step % len(touched)]
            if not (root / path).exists():
                continue
            lines = read(path)
            kind = rng.choice(["rewrite", "add", "move", "rename"])
            if kind == "rewrite":
                at = rng.randrange(len(lines))
                lines[at : at + 2] = [f"    changed_{next(counter)} = {next(counter)}" for _ in range(3)]
                write(path, lines)
            elif kind == "add":
                write(path, lines + function(f"added{next(counter)}", rng.randint(3, 8)))
            elif kind == "move":
                other = touched[(step + 1) % len(touched)]
                if (root / other).exists():
                    block = lines[:8]
                    write(path, lines[8:])
                    write(other, read(other) + block)
            else:
                new = path.replace(".py", f"_r{number}.py")
                git(root, "mv", path, new)
                touched = [new if t == path else t for t in touched]
            commit(f"pr {number} step {step} ({kind})")
        git(root, "checkout", "-q", "main")
        quiet = [m for m in modules if m not in touched and (root / m).exists()]
        if quiet:
            path = rng.choice(quiet)
            write(path, [*read(path), f"MAIN_{next(counter)} = 1"])
            commit(f"main moves on ({number})")
        git(root, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from dana/pr{number}", f"pr{number}")
        modules = sorted({*modules, *(t for t in touched if (root / t).exists())} & {*_tracked(root)})


def _tracked(root: Path) -> list[str]:
    return git(root, "ls-files").split()


# -- notes on the branch commits ----------------------------------------------------------------------


def seed_notes(root: Path, prs: list[PullRequest], seed: int) -> None:
    """Notes on every branch commit: a seeded share of its added runs AI, the rest a person's."""
    notes: dict[str, str] = {}
    for pr in prs:
        for sha in pr.commits:
            files: dict[str, tuple[NoteEntry, ...]] = {}
            parent = _git.resolve(root, f"{sha}^") or _git.EMPTY_TREE
            for path, lines in _git.added_lines(root, parent, sha).items():
                ai: list[int] = []
                human: list[int] = []
                text = (_git.blob_text(root, sha, path) or "").split("\n")
                for first, last in compact_lines(lines):
                    # Decided by the content, so a generated history splits the same way every run.
                    run_text = "\n".join(text[first - 1 : last])
                    key = hashlib.sha256(f"{seed}:{path}:{first}:{run_text}".encode()).digest()
                    (ai if key[0] < 256 * AI_SHARE else human).extend(range(first, last + 1))
                entries = []
                if ai:
                    gen = "gen_" + hashlib.sha256(f"{sha}:{path}".encode()).hexdigest()[:16]
                    entries.append(NoteEntry("ai", compact_lines(ai), (gen,), "claude-code", "bench-model"))
                if human:
                    entries.append(NoteEntry("human", compact_lines(human)))
                if entries:
                    files[path] = tuple(sorted(entries, key=lambda e: e.spans[0]))
            notes[sha] = CommitNote(files=files).to_json()
    _git.write_notes(root, NOTES_REF, notes, "benchmark: branch notes")


# -- the flows ------------------------------------------------------------------------------------------


def _reset(root: Path, rev: str) -> None:
    for state in ("cherry-pick --abort", "rebase --abort", "merge --abort"):
        git(root, *state.split(), check=False)
    git(root, "checkout", "-q", "-f", "-B", "landing", rev)
    git(root, "clean", "-q", "-fdx", "-e", ".codewitness")


def _take_real_tree(root: Path, pr: PullRequest) -> None:
    git(root, "read-tree", "--reset", "-u", pr.merge)


def flow_merge(root: Path, pr: PullRequest, hooks: bool = True) -> str:
    pre = () if hooks else NO_HOOKS
    message = f"Merge pull request #{pr.number} from bench/pr"
    proc = subprocess.run(
        ["git", *pre, "merge", "-q", "--no-ff", "-m", message, pr.head], cwd=root, capture_output=True
    )
    if proc.returncode != 0:
        _take_real_tree(root, pr)
        git(root, *pre, "commit", "-q", "--no-edit")
    return git(root, "rev-parse", "HEAD").strip()


def flow_squash(root: Path, pr: PullRequest) -> str:
    proc = subprocess.run(["git", "merge", "-q", "--squash", pr.head], cwd=root, capture_output=True)
    if proc.returncode != 0:
        _take_real_tree(root, pr)
    git(root, "commit", "-q", "--allow-empty", "-m", pr.title)
    return git(root, "rev-parse", "HEAD").strip()


def _rebase(root: Path, pr: PullRequest, hooks: bool) -> str:
    pre = () if hooks else NO_HOOKS
    git(root, "checkout", "-q", "-f", "-B", "landing", pr.head)
    fork = git(root, "merge-base", pr.base, pr.head).strip()
    proc = subprocess.run(
        ["git", *pre, "rebase", "-q", "--onto", pr.base, fork, "landing"], cwd=root, capture_output=True
    )
    if proc.returncode != 0:
        raise Conflict("rebase conflict")
    return git(root, "rev-parse", "HEAD").strip()


def flow_rebase(root: Path, pr: PullRequest) -> str:
    return _rebase(root, pr, hooks=True)


def flow_cherry_pick(root: Path, pr: PullRequest) -> str:
    proc = subprocess.run(["git", "cherry-pick", *pr.commits], cwd=root, capture_output=True)
    if proc.returncode != 0:
        raise Conflict("cherry-pick conflict")
    return git(root, "rev-parse", "HEAD").strip()


#: For the forge flows, what main says before ``notes consolidate`` runs (the flow measures it here).
BASELINE: dict[str, Tally] = {}


def _baseline(root: Path, pr: PullRequest, landed: str, flow: str) -> None:
    measure(root, pr, landed, BASELINE.setdefault(flow, Tally()))


def _forge_squash(root: Path, pr: PullRequest, with_ref: bool) -> str:
    tree = git(root, "rev-parse", f"{pr.merge}^{{tree}}").strip()
    message = f"{pr.title} (#{pr.number})\n"
    squash = git(root, "commit-tree", tree, "-p", pr.base, "-m", message).strip()
    git(root, "reset", "-q", "--hard", squash)
    if with_ref:
        git(root, "update-ref", f"refs/pull/{pr.number}/head", pr.head)
    else:
        git(root, "update-ref", "-d", f"refs/pull/{pr.number}/head", check=False)
    _baseline(root, pr, squash, "forge-squash" if with_ref else "forge-squash-noref")
    consolidate(root, squash)
    return squash


def flow_forge_squash(root: Path, pr: PullRequest) -> str:
    return _forge_squash(root, pr, with_ref=True)


def flow_forge_squash_noref(root: Path, pr: PullRequest) -> str:
    return _forge_squash(root, pr, with_ref=False)


def flow_forge_rebase(root: Path, pr: PullRequest) -> str:
    tip = _rebase(root, pr, hooks=False)
    _baseline(root, pr, tip, "forge-rebase")
    consolidate(root, tip, since=pr.base)
    return tip


def flow_forge_merge(root: Path, pr: PullRequest) -> str:
    tip = flow_merge(root, pr, hooks=False)
    _baseline(root, pr, tip, "forge-merge")
    consolidate(root, tip)
    return tip


FLOW_FUNCTIONS: dict[str, Callable[[Path, PullRequest], str]] = {
    "merge": flow_merge,
    "squash": flow_squash,
    "rebase": flow_rebase,
    "cherry-pick": flow_cherry_pick,
    "forge-squash": flow_forge_squash,
    "forge-squash-noref": flow_forge_squash_noref,
    "forge-rebase": flow_forge_rebase,
    "forge-merge": flow_forge_merge,
}


# -- measuring ----------------------------------------------------------------------------------------


def _attribution(root: Path, rev: str, paths: list[str]) -> dict[str, tuple[list[str], list[tuple[str, ...]]]]:
    """Per file: its lines at ``rev``, and per line (commit, kind, evidence, generations...)."""
    found = {}
    with Attributor(root, rev) as engine:
        entries = [e for e in engine.files(paths) if e.path in set(paths)]
        for result in engine.attribute(entries):
            if result.lines:
                found[result.path] = (
                    [line.text for line in result.lines],
                    [
                        (line.commit, line.origin.kind, line.origin.evidence, *line.origin.generation_ids)
                        for line in result.lines
                    ],
                )
    return found


def measure(root: Path, pr: PullRequest, landed: str, tally: Tally) -> None:
    """Compare the lines the pull request's own commits wrote, at its head, with the landed commit."""
    fork = git(root, "merge-base", pr.base, pr.head).strip()
    paths = sorted(p for p in git(root, "diff", "--name-only", "--no-renames", fork, pr.head).split() if p)
    before = _attribution(root, pr.head, paths)
    after = _attribution(root, landed, list(before))
    own = set(pr.commits)
    for path, (old_text, old_origins) in before.items():
        if path not in after:
            continue
        new_text, new_origins = after[path]
        for index, (old, same) in enumerate(pair_lines(old_text, new_text)):
            if old is None or not same or old_origins[old][0] not in own:
                continue
            _commit, kind, evidence, *gens = old_origins[old]
            _landed_commit, new_kind, _evidence, *new_gens = new_origins[index]
            if kind == "ai" and evidence == "note":
                tally.ai_as_text += 1
                if new_kind == "ai" and new_gens == gens:
                    tally.ai_kept += 1
            elif kind == "human":
                tally.human_as_text += 1
                if new_kind == "ai":
                    tally.human_made_ai += 1


# -- the run ------------------------------------------------------------------------------------------------


def run(
    source: Path | None, prs: int, flows: list[str], seed: int, max_commits: int, max_files: int
) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="cw-survival-"))
    try:
        root = work / "repo"
        if source is None:
            root.mkdir()
            generate(root, prs, seed)
            origin = f"generated history of {prs} pull requests (seed {seed})"
        else:
            git(work, "clone", "-q", "--no-hardlinks", str(source), str(root))
            origin = f"{source} at {git(root, 'rev-parse', '--short', 'HEAD').strip()}"
        git(root, "config", "user.name", "Dana Developer")
        git(root, "config", "user.email", "dana@example.com")
        git(root, "config", "commit.gpgsign", "false")
        selected = pull_requests(root, prs, max_commits=max_commits, max_files=max_files)
        if not selected:
            raise SystemExit(f"no merged pull request with a linear branch of <= {max_commits} commits in {origin}")
        seed_notes(root, selected, seed)
        install(root, ("claude",))
        tallies = {flow: Tally() for flow in flows}
        for number, pr in enumerate(selected, 1):
            for flow in flows:
                tally = tallies[flow]
                _reset(root, pr.base)
                # Each flow commits under its own name: two flows never make the same commit (and share its note).
                os.environ["GIT_COMMITTER_NAME"] = f"replay {flow}"
                started = time.perf_counter()
                try:
                    landed = FLOW_FUNCTIONS[flow](root, pr)
                    measure(root, pr, landed, tally)
                    tally.runs += 1
                except Conflict as exc:
                    tally.skipped[str(exc)] += 1
                except (CodewitnessError, RuntimeError) as exc:
                    tally.skipped[f"error: {str(exc)[:120]}"] += 1
                tally.seconds += time.perf_counter() - started
            print(f"  pull request {number}/{len(selected)} (#{pr.number}) replayed", file=sys.stderr)
        log = (root / ".codewitness" / "log").read_text() if (root / ".codewitness" / "log").exists() else ""
        hook_errors = [line for line in log.splitlines() if ": error: " in line]
        total = Tally()
        for tally in tallies.values():
            total.ai_as_text += tally.ai_as_text
            total.ai_kept += tally.ai_kept
            total.human_as_text += tally.human_as_text
            total.human_made_ai += tally.human_made_ai
        return {
            "repository": origin,
            "pull_requests": len(selected),
            "flows": {
                flow: {
                    "runs": t.runs,
                    "skipped": dict(t.skipped),
                    "ai_lines_as_text": t.ai_as_text,
                    "ai_lines_attributed": t.ai_kept,
                    "survival": round(t.share, 4),
                    "human_lines_as_text": t.human_as_text,
                    "human_lines_made_ai": t.human_made_ai,
                    "survival_without": round(BASELINE[flow].share, 4) if flow in BASELINE else None,
                    "seconds_per_run": round(t.seconds / max(1, t.runs + sum(t.skipped.values())), 2),
                }
                for flow, t in tallies.items()
            },
            "survival": round(total.share, 4),
            "ai_lines_as_text": total.ai_as_text,
            "human_lines_made_ai": total.human_made_ai,
            "hook_errors": hook_errors[:5],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _share(value: object) -> str:
    return "-" if value is None else f"{value:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="A clone with 'Merge pull request #N' merges (default: generate).")
    parser.add_argument("--prs", type=int, default=12, help="Pull requests to replay.")
    parser.add_argument("--flows", default=",".join(FLOWS), help="Comma-separated flows.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-commits", type=int, default=6, help="Longest branch replayed.")
    parser.add_argument("--max-files", type=int, default=12, help="Most files a replayed pull request touches.")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = parser.parse_args()
    flows = [f for f in args.flows.split(",") if f]
    unknown = set(flows) - set(FLOWS)
    if unknown:
        parser.error(f"unknown flows {sorted(unknown)}; choose from {', '.join(FLOWS)}")
    result = run(args.repo, args.prs, flows, args.seed, args.max_commits, args.max_files)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['repository']}: {result['pull_requests']} pull requests")
    header = ("flow", "runs", "skipped", "AI lines", "kept", "survival", "human->AI", "without", "s/run")
    print("{:<20} {:>5} {:>8} {:>9} {:>7} {:>9} {:>10} {:>8} {:>6}".format(*header))
    flows_out: dict[str, dict[str, object]] = result["flows"]  # type: ignore[assignment]
    for flow, row in flows_out.items():
        skipped = sum(row["skipped"].values())  # type: ignore[attr-defined]
        print(
            f"{flow:<20} {row['runs']:>5} {skipped:>8} {row['ai_lines_as_text']:>9} {row['ai_lines_attributed']:>7} "
            f"{row['survival']:>9.2%} {row['human_lines_made_ai']:>10} {_share(row['survival_without']):>8} "
            f"{row['seconds_per_run']:>6}"
        )
    print(f"all flows: {result['survival']:.2%} of {result['ai_lines_as_text']} AI lines that reached main as text")
    for line in result["hook_errors"]:  # type: ignore[attr-defined]
        print(f"hook error: {line}", file=sys.stderr)


if __name__ == "__main__":
    main()
