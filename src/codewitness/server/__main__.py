"""``python -m codewitness.server``: the server as a program of its own.

``codewitness serve`` checks its options, opens (and migrates) the store, then replaces itself with
this program, so that no face imports another. The settings arrive as JSON in the environment
variable ``CW_SERVE_SETTINGS`` (:meth:`ServerSettings.to_json`): the database URL may hold a
password, and a command line is visible to every user of the machine.
"""

from __future__ import annotations

import argparse
import os
import sys

from codewitness.errors import CodewitnessError
from codewitness.server.app import SETTINGS_ENV, ServerSettings, serve


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; the exit code."""
    parser = argparse.ArgumentParser(prog="python -m codewitness.server", description="Run 'codewitness serve'.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    text = os.environ.get(SETTINGS_ENV)
    if not text:
        print(f"codewitness: error: {SETTINGS_ENV} is not set; start it with 'codewitness serve'", file=sys.stderr)
        return 2
    try:
        settings = ServerSettings.from_json(text)
    except (ValueError, TypeError) as exc:
        print(f"codewitness: error: {SETTINGS_ENV} is not the server's settings: {exc}", file=sys.stderr)
        return 2
    try:
        serve(settings, host=args.host, port=args.port, workers=args.workers)
    except CodewitnessError as exc:
        print(f"codewitness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
