"""The ``codewitness`` command line (Typer + Rich).

Results -- tables, reports, ``--json``, ``--sarif`` -- go to stdout; progress, warnings and notes
go to stderr, so ``codewitness blame f | less`` and ``codewitness runtime --json | jq`` see only
the answer. When stdout is not a terminal nothing is wrapped or coloured and a table is one row
per line. Exit codes:

====  =========================================================================
0     success
1     findings, a failed check, or an operational error (git, database, not found)
2     a usage error: bad option, malformed input file or value, bad configuration
====  =========================================================================

A user mistake prints one line ``codewitness: error: ...`` and never a traceback. Each verb group
lives in its own module with a ``register(app)`` function (:mod:`codewitness.cli._app` lists
them). ``codewitness blame FILE`` and ``codewitness check`` are answered without loading Typer when
their arguments are plain (:mod:`codewitness.cli._blame`, :mod:`codewitness.cli._check`); everything
else, ``--help`` included, goes through Typer.
"""

from __future__ import annotations

import sys

from codewitness.errors import CodewitnessError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by ``python -m codewitness``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from codewitness.cli import _blame

        fast = _blame.fast_args(args)
        if fast is not None:
            _blame.run(fast)
            return 0
        from codewitness.cli import _check

        check = _check.fast_args(args)
        if check is not None:
            return _check.run(check)
        from codewitness.cli._app import run_app

        run_app(args)
    except CodewitnessError as exc:
        print(f"codewitness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:
        # Typer's standalone mode ends every run with SystemExit (usage errors: 2).
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BrokenPipeError:
        return 0
    return 0
