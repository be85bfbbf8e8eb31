"""``sqlite3.connect`` for tests: every connection it opens is closed when the test ends.

Python 3.13 warns (``ResourceWarning``) when a connection is collected open, and with
``filterwarnings = error`` the warning fails whichever later test the collection happens in.
The autouse fixture in ``tests/sensor/conftest.py`` closes them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

OPENED: list[sqlite3.Connection] = []


def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    """``sqlite3.connect`` as the test process has it now (the flow integration wraps it), remembered."""
    conn = sqlite3.connect(*args, **kwargs)
    OPENED.append(conn)
    return conn


def close_all() -> None:
    """Close every connection :func:`connect` opened."""
    while OPENED:
        OPENED.pop().close()
