"""The sensor's fixtures (:mod:`tests.sensor_app`): ``app``, ``backend``, ``memory``, ``start``."""

from collections.abc import Iterator

import pytest
from tests.sensor_app import app, backend, memory, start
from tests.sensor_db import close_all

__all__ = ["app", "backend", "memory", "start"]


@pytest.fixture(autouse=True)
def _close_test_connections() -> Iterator[None]:
    """Close the SQLite connections a test opened with :func:`tests.sensor_db.connect`."""
    yield
    close_all()
