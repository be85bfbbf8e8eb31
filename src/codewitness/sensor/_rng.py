"""The sensor's own random numbers (sampling, retry jitter).

The sensor never draws from the ``random`` module's shared generator: a host that seeds it (a
simulation, a test suite, a reproducible job) gets the same sequence with the sensor running as
without it. A forked child reseeds its copy, so parent and child do not sample in step.
"""

from __future__ import annotations

import os
import random

__all__ = ["RNG"]

#: Seeded from the operating system's entropy at import.
RNG = random.Random()  # noqa: S311 - sampling, not security

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=RNG.seed)
