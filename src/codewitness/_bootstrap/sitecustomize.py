"""Put on ``PYTHONPATH`` by ``codewitness run``: start the sensor before the application runs.

Settings arrive as ``CODEWITNESS_SENSOR_*`` variables, read by :func:`codewitness.init`. After
starting, any ``sitecustomize`` the environment had before is imported, as it would have been.
"""

import contextlib
import os
import sys


def _start() -> None:
    try:
        import codewitness
    except ImportError as exc:
        sys.stderr.write(
            f"codewitness run: {sys.executable} cannot import codewitness ({exc}); "
            "install codewitness in the application's environment. Running uninstrumented.\n"
        )
        return
    codewitness.init()


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    ours = sys.modules.pop("sitecustomize", None)
    with contextlib.suppress(ImportError):
        import sitecustomize  # type: ignore[import-not-found]  # noqa: F401 - the environment's own
    # The import machinery looks this module up by name when it finishes; without another
    # sitecustomize, that must still be us.
    if "sitecustomize" not in sys.modules and ours is not None:
        sys.modules["sitecustomize"] = ours


_start()
_chain()
