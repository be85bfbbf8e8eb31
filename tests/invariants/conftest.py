"""The sensor's fixtures (:mod:`tests.sensor_app`): ``app``, ``backend``, ``memory``, ``start``."""

from tests.sensor_app import app, backend, memory, start

__all__ = ["app", "backend", "memory", "start"]
