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

setup(
    ext_modules=[
        Extension(
            "codewitness.sensor._meter",
            sources=["src/codewitness/sensor/_meter.c"],
            optional=True,
        )
    ]
    if compiled
    else [],
)
