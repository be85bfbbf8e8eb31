"""Did its behaviour change? Real inputs per function, replayed against other revisions.

* :mod:`~codewitness.behavior.review` -- review sampling (a sensor plug-in);
* :mod:`~codewitness.behavior.corpus` -- the inputs replays are made of (samples, test runs,
  review verdicts, people's cases);
* :mod:`~codewitness.behavior.replay` -- a replay between two revisions and its report, on
  :mod:`~codewitness.behavior.sides` (temporary worktrees, runner processes) and
  :mod:`~codewitness.behavior.compare` (exact comparison, noise rules, the structural diff);
* :mod:`~codewitness.behavior.changes` -- who changed a function; agent context changes;
* :mod:`~codewitness.behavior.baseline` -- pinned outcomes and drift alarms;
  :mod:`~codewitness.behavior.drift` -- behaviour across a prompt's versions;
* :mod:`~codewitness.behavior.gentests` -- regression tests from real cases;
  :mod:`~codewitness.behavior.search` -- a property-based search for a differing input.

See docs/behavior.md.
"""
