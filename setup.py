"""The one thing pyproject.toml cannot say: the sensor's compiled per-call path is optional.

``codewitness.sensor._meter`` is built where a C compiler and the Python headers are present
(CPython with the GIL, POSIX clocks). Where the build fails or is skipped, the install goes on
and the sensor uses the pure-Python meter (``codewitness.sensor.meter``): same data, a higher
cost per call.
"""

import os
import platform
import sysconfig

from setuptools import Extension, setup

compiled = (
    platform.python_implementation() == "CPython"
    and os.name == "posix"
    and not sysconfig.get_config_var("Py_GIL_DISABLED")
)
# The meter is kept free of warnings at these levels (gcc and clang take the same flags).
compiler = os.path.basename((os.environ.get("CC") or sysconfig.get_config_var("CC") or "").split(" ")[0])
warnings = ["-Wall", "-Wextra"] if "gcc" in compiler or "clang" in compiler or compiler == "cc" else []

setup(
    ext_modules=[
        Extension(
            "codewitness.sensor._meter",
            sources=["src/codewitness/sensor/_meter.c"],
            extra_compile_args=warnings,
            optional=True,
        )
    ]
    if compiled
    else [],
)
