"""Runs a script the way ``python app.py`` would, with its own functions watched.

``codewitness run -- python app.py ...`` starts ``python -m codewitness.sensor._script app.py ...``
instead: the interpreter compiles and runs a script file itself, outside any import, so the
sensor (started by the ``sitecustomize`` of ``codewitness run``) would never see the script's
functions. Here the script's source is rewritten like an imported module's (see
``_rewriting.Rewriter.rewrite``) and run in a fresh ``__main__``, with ``sys.argv`` and
``sys.path[0]`` as ``python app.py`` sets them. Its functions are watched under the module name
the manifest gives the file (else the file's stem, as ``import app`` would name it); inside the
program ``__name__`` is still ``"__main__"``. Tracebacks of uncaught exceptions start with two
frames of this runner and ``runpy``, as under ``coverage run``.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import os
import sys
import tokenize
import types
from typing import Any

__all__ = ["main", "module_name_for"]


def module_name_for(script: str, targets: Any) -> str:
    """The module name of ``script``: the manifest's, when one of its functions is in this file."""
    where = os.path.realpath(script)
    for target in targets:
        path = getattr(target, "path", "")
        if path and (where == os.path.realpath(path) or where.endswith(os.sep + os.path.normpath(path))):
            return str(target.module)
    return os.path.splitext(os.path.basename(script))[0]


def _code(script: str, source: str) -> types.CodeType:
    """The script's code, rewritten when the sensor is running and selects some of its functions."""
    try:
        from codewitness.sensor._process import active

        sensor = active()
        rewriter = getattr(sensor.backend, "rewriter", None) if sensor is not None else None
        if sensor is not None and rewriter is not None:
            name = module_name_for(script, sensor.selection.known.values())
            code = None
            try:
                code = rewriter.rewrite(types.ModuleType(name), source, script, standalone=True)
            except SyntaxError:
                pass  # the script's own error: compile() below reports it as python would
            except Exception:
                sensor.internal_error("rewrite")
            if code is not None:
                return code  # type: ignore[no-any-return]
    except ImportError:  # the sensor cannot be imported: run the script as it is
        pass
    return compile(source, script, "exec", dont_inherit=True)


def main(argv: list[str]) -> None:
    """Run the script ``argv[0]`` with arguments ``argv[1:]`` as ``__main__``."""
    if not argv:
        sys.exit("usage: python -m codewitness.sensor._script SCRIPT [ARGS...]")
    script = argv[0]
    try:
        with tokenize.open(script) as handle:
            source = handle.read()
    except OSError as exc:
        sys.exit(f"{sys.executable}: can't open file {script!r}: [Errno {exc.errno}] {exc.strerror}")
    sys.argv[:] = argv
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # where ``python app.py`` looks first
    module = types.ModuleType("__main__")
    module.__file__ = script
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    module.__spec__ = None
    code = _code(script, source)
    sys.modules["__main__"] = module
    exec(code, vars(module))  # noqa: S102 - the user's own program, as python would run it


if __name__ == "__main__":
    main(sys.argv[1:])
