"""The sensor over real libraries a process loaded before ``init()`` (``codewitness.init()`` called
after the application's imports): every function it gave rewritten code can still run.

A function loaded before ``init()`` gets the code its source compiles to when rewritten; that code,
and the code of the functions nested in it, read their meters from module globals. Each library
here is watched whole (``include = ["click.*", ...]``) in a child process, every name of ours the
rewritten code reads is looked up in its globals, and each library is then used as an application
would: a click command with a typed option, a jinja2 template with ``urlize``, pygments guessing a
lexer. Before the fix for nested functions defined twice, ten functions of these libraries (and of
datasette's) raised ``NameError`` on their first call, click's ``Parameter.type_cast_value`` among them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BACKENDS = ["wrapping", "auto"] if sys.version_info >= (3, 12) else ["wrapping"]

HOST = """
import importlib, json, pkgutil, re, sys, types, warnings
warnings.simplefilter("ignore")  # what importing every module of a library may say

import codewitness.sensor
from codewitness.config import SensorSection

PACKAGES = ("click", "jinja2")
MODULES = ("pygments.lexer", "pygments.lexers", "pygments.formatters.html")
for package in PACKAGES:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        try:
            importlib.import_module(info.name)
        except Exception:
            pass  # a module needing an optional dependency
for name in MODULES:
    importlib.import_module(name)

sensor = codewitness.sensor.init(
    service="libraries", include=[f"{p}.*" for p in PACKAGES] + [f"{m}.*" for m in MODULES],
    manifest="none.json", spool_dir="", endpoint="", otel=False, interval=3600, backend=sys.argv[1],
    settings=SensorSection(unwatch_cheap_calls=0),
)
assert sensor is not None

OURS = re.compile(r"__cw_\\w+__|__codewitness_probe_for__")

def codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from codes(const)

recoded, unbound = 0, []
for name, module in list(sys.modules.items()):
    if not (name.split(".")[0] in PACKAGES or name in MODULES):
        continue
    for value in list(vars(module).values()):
        members = [value, *vars(value).values()] if isinstance(value, type) else [value]
        for member in members:
            function = getattr(member, "__func__", member)
            if not isinstance(function, types.FunctionType) or function.__module__ != name:
                continue
            code = function.__code__
            if not any(n.startswith("__cw_") for n in code.co_names + code.co_varnames):
                continue
            recoded += 1
            for inner in codes(code):
                unbound += [
                    f"{name}.{function.__qualname__}: {n}"
                    for n in inner.co_names
                    if OURS.fullmatch(n) and n not in function.__globals__
                ]

import click
from click.testing import CliRunner
import jinja2
from pygments.lexers import guess_lexer_for_filename

@click.command()
@click.option("--count", type=int, default=1)
def hello(count):
    click.echo("hi " * count)

ran = CliRunner().invoke(hello, ["--count", "2"])
page = jinja2.Environment().from_string("{{ text|urlize }} {% for a, b in pairs %}{{ a }}{{ b }}{% endfor %}")
rendered = page.render(text="see https://example.com", pairs=[(1, 2)])
lexer = guess_lexer_for_filename("shop.py", "def total(items):\\n    return sum(items)\\n").name
sensor.flush()
print(json.dumps({
    "backend": sensor.backend.name, "recoded": recoded, "unbound": unbound[:20],
    "click": [ran.exit_code, ran.output, repr(ran.exception)], "jinja2": rendered, "pygments": lexer,
    "watched": len(sensor.probes), "internal_errors": dict(sensor.internal_errors),
}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_libraries_loaded_before_init_run_with_their_rewritten_code(tmp_path: Path, backend: str) -> None:
    (tmp_path / "host.py").write_text(textwrap.dedent(HOST))
    proc = subprocess.run(
        [sys.executable, "host.py", backend], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["unbound"] == []
    assert result["recoded"] > 500  # the libraries were watched through their rewritten code
    assert result["click"] == [0, "hi hi \n", "None"]
    assert result["jinja2"] == 'see <a href="https://example.com" rel="noopener">https://example.com</a> 12'
    assert result["pygments"] == "Python"
    assert result["internal_errors"] == {}
