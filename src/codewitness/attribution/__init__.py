"""Attribution: who wrote which line and function, from notes, imported records and commit marks.

* :mod:`~codewitness.attribution.blame` — the engine; :func:`~codewitness.attribution.blame.line_origins`
  gives the origin of every line of a file at a revision.
* :mod:`~codewitness.attribution.functions` — function spans and their roll-up.
* :mod:`~codewitness.attribution.report` / :mod:`~codewitness.attribution.manifest` — the report and
  the manifest the runtime sensor reads.
* :mod:`~codewitness.attribution.notes`, :mod:`~codewitness.attribution.gitai`,
  :mod:`~codewitness.attribution.agenttrace`, :mod:`~codewitness.attribution.interop` — the formats.

Example:
    >>> from codewitness.attribution.blame import line_origins
    >>> [o.kind for o in line_origins(Path("."), "src/app.py")][:3]  # doctest: +SKIP
    ['ai', 'ai', 'human']
"""
