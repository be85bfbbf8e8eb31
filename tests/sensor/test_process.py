"""The sensor in whole processes: exit, fork, a stuck exporter, and `codewitness run`."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.sensor.servers import RawServer, trickle

from codewitness.config import SensorSection
from codewitness.ingest import read_spool
from codewitness.model import Manifest, ManifestFunction
from codewitness.sensor.export import HttpExporter

BACKENDS = ["wrapping", "monitoring", "auto"] if sys.version_info >= (3, 12) else ["wrapping"]


def spool_records(folder: Path) -> list[dict[str, Any]]:
    return [r for _, records, _ in read_spool(folder) for r in records]


def calls_by_pid(records: list[dict[str, Any]], function: str) -> Counter[int]:
    counts: Counter[int] = Counter()
    for r in records:
        if r["kind"] == "aggregate" and r["function"] == function:
            counts[r["pid"]] += r["calls"]
    return counts


def run_python(tmp_path: Path, source: str, *args: str, env: dict[str, str] | None = None) -> str:
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(source))
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


HOST_PRELUDE = """
import os, sys
import codewitness
from codewitness.config import SensorSection

def work(x):
    return x * 2

sensor = codewitness.init(
    service="host", include=["__main__.work"], manifest="none.json", spool_dir="spool", interval=3600,
    backend=sys.argv[1], settings=SensorSection(),
)
assert sensor is not None
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_last_interval_is_flushed_at_exit(tmp_path: Path, backend: str) -> None:
    run_python(tmp_path, HOST_PRELUDE + "\nfor i in range(7):\n    work(i)\n", backend)
    assert calls_by_pid(spool_records(tmp_path / "spool"), "__main__.work").total() == 7


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_forked_child_reports_its_own_calls(tmp_path: Path, backend: str) -> None:
    out = run_python(
        tmp_path,
        HOST_PRELUDE
        + """
import warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, as gunicorn does
for i in range(3):
    work(i)
pid = os.fork()
if pid == 0:
    for i in range(5):
        work(i)
    sys.exit(0)
os.waitpid(pid, 0)
work(1); work(2)
print(pid)
""",
        backend,
    )
    child = int(out.strip())
    counts = calls_by_pid(spool_records(tmp_path / "spool"), "__main__.work")
    assert counts[child] == 5
    parent = next(pid for pid in counts if pid != child)
    assert counts[parent] == 5
    assert len(counts) == 2


def terminated(tmp_path: Path, source: str) -> tuple[int, str]:
    """Run ``source`` until it prints ``ready``, send it SIGTERM: (its exit status, what it printed)."""
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(source) + "\nprint('ready', flush=True)\nimport time\ntime.sleep(60)\n")
    proc = subprocess.Popen(
        [sys.executable, str(script), "auto"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        while (line := proc.stdout.readline()) and line.strip() != "ready":
            lines.append(line)
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        return proc.returncode, "".join(lines)
    finally:
        proc.kill()
        proc.communicate()


ON_SIGTERM = "print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\nfor i in range(7):\n    work(i)\n"


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_flushes_the_last_interval_then_ends_the_process_as_sigterm_does(tmp_path: Path) -> None:
    status, printed = terminated(tmp_path, "import signal\n" + HOST_PRELUDE + ON_SIGTERM)
    assert status == -signal.SIGTERM
    assert printed.strip() == "False"  # the sensor's handler
    assert calls_by_pid(spool_records(tmp_path / "spool"), "__main__.work").total() == 7


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_a_program_s_own_sigterm_handler_is_left_alone(tmp_path: Path) -> None:
    own = "import signal, sys\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n"
    status, printed = terminated(tmp_path, own + HOST_PRELUDE + ON_SIGTERM)
    assert status == 3  # the program's handler ran; its exit ran ``atexit``, which flushed
    assert printed.strip() == "False"
    assert calls_by_pid(spool_records(tmp_path / "spool"), "__main__.work").total() == 7


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_flush_on_sigterm_off_leaves_sigterm_alone(tmp_path: Path) -> None:
    prelude = HOST_PRELUDE.replace("settings=SensorSection()", "settings=SensorSection(flush_on_sigterm=False)")
    assert prelude != HOST_PRELUDE
    status, printed = terminated(tmp_path, "import signal\n" + prelude + ON_SIGTERM)
    assert status == -signal.SIGTERM
    assert printed.strip() == "True"
    assert calls_by_pid(spool_records(tmp_path / "spool"), "__main__.work").total() == 0  # lost, as asked


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_ends_the_process_soon_while_the_collector_trickles(tmp_path: Path) -> None:
    # A collector that accepts the batch and then answers a byte every 0.2 s, for a minute.
    server = RawServer(trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + b"." * 300))
    prelude = HOST_PRELUDE.replace(
        'spool_dir="spool", interval=3600', f'spool_dir="spool", interval=0.2, endpoint="{server.url}"'
    )
    assert prelude != HOST_PRELUDE
    script = tmp_path / "host.py"
    script.write_text(
        prelude + "for i in range(7):\n    work(i)\nprint('ready', flush=True)\nimport time\ntime.sleep(120)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), "auto"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        waited = time.monotonic()
        while not server.connections and time.monotonic() - waited < 30:  # the exporter is stuck in it now
            time.sleep(0.05)
        assert server.connections
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        began = time.monotonic()
        try:
            status = proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("the process was still running 60 s after SIGTERM")
        took = time.monotonic() - began
    finally:
        proc.kill()
        proc.communicate()
        server.close()
    assert status == -signal.SIGTERM
    assert took < 10, f"SIGTERM took {took:.1f} s to end the process (docker stop's grace is 10 s)"
    # The last interval still reached the spool (exporters run in order; HTTP is cut short).
    assert calls_by_pid(spool_records(tmp_path / "spool"), "__main__.work").total() == 7


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_a_sigterm_during_the_flush_at_exit_lets_the_flush_finish(tmp_path: Path) -> None:
    # As when Pool.terminate() signals a worker that is already ending: the SIGTERM arrives while
    # the last interval is being exported at exit.
    slow = """
import signal, time

class Slow:
    def export(self, records):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
        with open("slow.txt", "a") as out:
            out.write(str(sum(r.get("calls", 0) for r in records)))

    def close(self): pass
    def after_fork(self): pass
    def health(self): return {}

sensor.exporters.append(Slow())
for i in range(7):
    work(i)
"""
    script = tmp_path / "host.py"
    script.write_text(HOST_PRELUDE + slow)
    proc = subprocess.run(
        [sys.executable, str(script), "auto"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == -signal.SIGTERM, proc.stderr  # the process still ends as SIGTERM ends it
    assert (tmp_path / "slow.txt").read_text() == "7"  # after the export finished


def test_shutdown_gives_sigterm_back(tmp_path: Path) -> None:
    source = "import signal\n" + HOST_PRELUDE + (
        "taken = signal.getsignal(signal.SIGTERM) != signal.SIG_DFL\n"
        "sensor.shutdown()\n"
        "print(taken, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n"
    )
    assert run_python(tmp_path, source, "auto").split() == ["True", "True"]


def test_the_last_interval_reaches_the_collector_at_exit(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[int] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(1)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        # No shutdown() of its own: atexit flushes, when the interpreter starts no more threads (3.12+).
        prelude = HOST_PRELUDE.replace("interval=3600", f'interval=3600, endpoint="{url}"')
        run_python(tmp_path, prelude + "work(1)\n", "auto")
    finally:
        server.shutdown()
        server.server_close()
    assert received == [1]


def test_a_stuck_exporter_never_blocks_the_application(tmp_path: Path) -> None:
    # A server that accepts the batch but does not answer until released.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()
    received: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(1)
            release.wait(30)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    module = tmp_path / "stuckapp.py"
    module.write_text("def work(x):\n    return x + 1\n")
    sys.path.insert(0, str(tmp_path))
    import codewitness.sensor

    try:
        sensor = codewitness.sensor.init(
            include=["stuckapp.work"],
            manifest=tmp_path / "none.json",
            spool_dir="",
            interval=0.05,
            settings=SensorSection(),
        )
        assert sensor is not None
        sensor.exporters.append(HttpExporter(f"http://127.0.0.1:{server.server_address[1]}/", timeout=30))
        work = importlib.import_module("stuckapp").work
        # Keep calling until the exporter thread is provably stuck inside the server ...
        total = 0
        while not received:
            total += work(1) - 1
        # ... and then go on calling while it stays stuck: every call returns.
        for _ in range(20_000):
            total += work(1) - 1
        assert len(received) == 1
        assert total >= 20_000
    finally:
        release.set()
        codewitness.sensor.shutdown()
        server.shutdown()
        server.server_close()
        sys.path.remove(str(tmp_path))
        sys.modules.pop("stuckapp", None)


# -- codewitness run ---------------------------------------------------------------------------


def write_app(root: Path) -> Path:
    pkg = root / "runapp"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "logic.py").write_text(
        textwrap.dedent(
            """
            def price(qty, unit):
                if qty < 0:
                    raise ValueError("negative quantity")
                return qty * unit

            def helper(x):
                return x
            """
        )
    )
    (pkg / "__main__.py").write_text(
        textwrap.dedent(
            """
            from runapp.logic import price, helper
            for q in range(10):
                price(q, 2)
                helper(q)
            try:
                price(-1, 2, )
            except ValueError:
                pass
            print("ran")
            """
        )
    )
    (root / "app.py").write_text("import runpy\nrunpy.run_module('runapp', run_name='__main__')\n")
    manifest = Manifest(
        revision="abc123",
        functions=(
            ManifestFunction(
                module="runapp.logic",
                qualname="price",
                path="runapp/logic.py",
                start_line=2,
                end_line=5,
                ai_share=1.0,
                generation_ids=("gen_aaaaaaaaaaaaaaaaaaaa",),
                models=("gpt-5",),
                agents=("codex",),
            ),
        ),
    )
    (root / ".codewitness").mkdir()
    (root / ".codewitness" / "manifest.json").write_text(manifest.to_json())
    (root / ".git").mkdir()
    return root


def codewitness_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    return subprocess.run(
        [sys.executable, "-m", "codewitness", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("form", [["app.py"], ["-m", "runapp"]])
def test_run_instruments_a_program_without_code_change(tmp_path: Path, form: list[str]) -> None:
    root = write_app(tmp_path)
    proc = codewitness_cli(root, "run", "--interval", "60", "--", sys.executable, *form)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "ran"
    records = spool_records(root / ".codewitness" / "spool")
    (agg,) = [r for r in records if r["kind"] == "aggregate"]
    assert agg["function"] == "runapp.logic.price"
    assert agg["calls"] == 11
    assert agg["errors"] == {"ValueError": 1}
    assert agg["revision"] == "abc123"
    assert agg["models"] == ["gpt-5"]
    assert agg["service"] == ("app" if form == ["app.py"] else "runapp")
    (exc,) = [r for r in records if r["kind"] == "exception"]
    assert exc["arguments"] == {"qty": -1, "unit": 2}


def test_run_watches_the_functions_of_the_module_python_m_runs(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    (root / "runapp" / "serve.py").write_text(
        textwrap.dedent(
            '''
            """The main module: its code runs in ``__main__``, not as ``runapp.serve``."""
            from __future__ import annotations

            import sys


            def handle(x: int) -> int:
                return x + 1


            class Handler:
                def do(self, x):
                    if x < 0:
                        raise ValueError("negative")
                    return handle(x)


            if __name__ == "__main__":
                h = Handler()
                print(sum(h.do(i) for i in range(5)), __name__, handle.__module__, sys._getframe().f_code.co_filename)
                try:
                    h.do(-1)
                except ValueError:
                    pass
            '''
        )
    )
    proc = codewitness_cli(root, "run", "--include", "runapp.serve.*", "--", sys.executable, "-m", "runapp.serve")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    total, name, module, filename = proc.stdout.split()
    assert (total, name, module) == ("15", "__main__", "__main__")  # the program's own view is unchanged
    assert filename == str(root / "runapp" / "serve.py")
    records = spool_records(root / ".codewitness" / "spool")
    functions = {r["function"]: r for r in records if r["kind"] == "aggregate"}
    assert functions["runapp.serve.handle"]["calls"] == 5
    assert functions["runapp.serve.Handler.do"]["calls"] == 6
    assert functions["runapp.serve.Handler.do"]["errors"] == {"ValueError": 1}
    (exc,) = [r for r in records if r["kind"] == "exception"]
    assert exc["function"] == "runapp.serve.Handler.do" and exc["arguments"]["x"] == -1


SCRIPT = '''
"""A script whose own functions were written by an agent."""
import os
import sys


def price(qty, unit):
    if qty < 0:
        raise ValueError("negative quantity")
    return qty * unit


if __name__ == "__main__":
    total = sum(price(q, 2) for q in range(4))
    try:
        price(-1, 2)
    except ValueError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    print(total, __name__, price.__module__, sys.argv, sys.path[0] == here, flush=True)
    if sys.argv[1] == "crash":
        price(-5, 1)
    sys.exit(int(sys.argv[1]))
'''


def test_run_watches_the_functions_of_the_script_itself(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    (root / "tools").mkdir()
    (root / "tools" / "pricing.py").write_text(SCRIPT)
    manifest = Manifest(
        revision="abc123",
        functions=(
            ManifestFunction(
                module="tools.pricing", qualname="price", path="tools/pricing.py", start_line=7, end_line=10,
                ai_share=1.0, generation_ids=("gen_bbbbbbbbbbbbbbbbbbbb",), models=("gpt-5",), agents=("codex",),
            ),
        ),
    )  # fmt: skip
    (root / ".codewitness" / "manifest.json").write_text(manifest.to_json())
    proc = codewitness_cli(root, "run", "--", sys.executable, "-u", "-W", "error", "tools/pricing.py", "3")
    assert proc.returncode == 3, proc.stderr  # the program's own exit status
    assert proc.stderr == ""
    # What the program sees is what ``python tools/pricing.py 3`` shows it.
    assert proc.stdout.strip() == "12 __main__ __main__ ['tools/pricing.py', '3'] True"
    records = spool_records(root / ".codewitness" / "spool")
    (agg,) = [r for r in records if r["kind"] == "aggregate"]
    assert agg["function"] == "tools.pricing.price"  # the manifest's name for the file
    assert agg["calls"] == 5 and agg["errors"] == {"ValueError": 1}
    assert agg["models"] == ["gpt-5"] and agg["origin"] == "ai"
    (exc,) = [r for r in records if r["kind"] == "exception"]
    assert exc["arguments"] == {"qty": -1, "unit": 2}

    crashed = codewitness_cli(root, "run", "--", sys.executable, "tools/pricing.py", "crash")
    assert crashed.returncode == 1
    assert crashed.stderr.rstrip().endswith("ValueError: negative quantity")  # python's own report
    assert 'File "' + str(Path("tools") / "pricing.py") + '", line 22, in <module>' in crashed.stderr


@pytest.mark.parametrize(
    ("args", "index"),
    [
        (["app.py"], 0),
        (["-u", "app.py", "-m"], 1),
        (["-W", "error", "app.py"], 2),
        (["-Werror", "app.py"], 1),
        (["-X", "dev", "-O", "app.py", "x"], 3),
        (["-uX", "dev", "app.py"], 2),
        (["-Xdev", "app.py"], 1),
        (["--check-hash-based-pycs", "always", "app.py"], 2),
        (["--", "app.py"], 1),
        (["-c", "print(1)"], None),
        (["-m", "pkg"], None),
        (["-um", "pkg"], None),
        (["-"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_script_of_a_python_command_line_is_found(args: list[str], index: int | None) -> None:
    from codewitness.cli.sensor_cmd import _script_index

    assert _script_index(args) == index


def test_run_passes_options_to_the_program(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    proc = codewitness_cli(
        root,
        "run",
        "--service",
        "checkout",
        "--include",
        "runapp.logic.*",
        "--spool-dir",
        "elsewhere",
        "--",
        sys.executable,
        "-m",
        "runapp",
    )
    assert proc.returncode == 0, proc.stderr
    records = spool_records(root / "elsewhere")
    functions = {r["function"]: r for r in records if r["kind"] == "aggregate"}
    assert set(functions) == {"runapp.logic.price", "runapp.logic.helper"}
    assert functions["runapp.logic.helper"]["origin"] == "human"
    assert {r["service"] for r in records} == {"checkout"}


def test_run_refuses_an_empty_spool_dir_instead_of_writing_into_the_working_directory(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    before = set(root.iterdir())
    proc = codewitness_cli(root, "run", "--spool-dir", "", "--", sys.executable, "-m", "runapp")
    assert proc.returncode == 2
    assert "--spool-dir is empty" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""  # the program did not run
    assert set(root.iterdir()) == before


def test_an_empty_spool_dir_in_the_configuration_turns_the_spool_off(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    (root / "codewitness.toml").write_text('[sensor]\nspool_dir = ""\n')
    before = set(root.rglob("*"))
    proc = codewitness_cli(root, "run", "--", sys.executable, "-m", "runapp")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ran"
    assert "nowhere to send its records" in proc.stderr
    assert {p for p in set(root.rglob("*")) - before if "__pycache__" not in p.parts} == set()


def test_run_keeps_an_existing_sitecustomize(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import os\nos.environ['OWN_SITECUSTOMIZE'] = 'yes'\n")
    (root / "show.py").write_text("import os\nprint(os.environ.get('OWN_SITECUSTOMIZE'))\n")
    env_path = {**os.environ, "PYTHONPATH": str(own)}
    proc = subprocess.run(
        [sys.executable, "-m", "codewitness", "run", "--", sys.executable, "show.py"],
        cwd=root,
        capture_output=True,
        text=True,
        env={k: v for k, v in env_path.items() if not k.startswith("CODEWITNESS_")},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "yes"


def test_run_without_a_manifest_or_include_patterns_says_nothing_will_be_watched(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    (root / ".codewitness" / "manifest.json").unlink()
    proc = codewitness_cli(root, "run", "--", sys.executable, "-m", "runapp")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ran"  # the program runs all the same
    # One line: the runner says it before the program starts; the sensor inside does not repeat it.
    (line,) = proc.stderr.strip().splitlines()
    assert "no manifest at" in line and "will be watched" in line
    assert "codewitness manifest build" in line and "--include" in line
    with_pattern = codewitness_cli(root, "run", "--include", "runapp.logic.*", "--", sys.executable, "-m", "runapp")
    assert with_pattern.returncode == 0
    (line,) = with_pattern.stderr.strip().splitlines()
    assert "watching only what runapp.logic.* select(s)" in line


def test_a_sensor_started_by_the_program_says_once_that_it_watches_nothing(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    (root / ".codewitness" / "manifest.json").write_text(Manifest(revision="abc123", functions=()).to_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEWITNESS_")}
    program = "import codewitness; codewitness.init(); import runapp.__main__"
    proc = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "watches nothing (the manifest lists no function to watch, and no include patterns)" in line
    assert "codewitness manifest build" in line and "--include" in line
    under_run = codewitness_cli(root, "run", "--", sys.executable, "-m", "runapp")
    (line,) = under_run.stderr.strip().splitlines()
    assert "lists no function to watch" in line and "watches nothing" not in line


def test_run_reports_a_missing_program(tmp_path: Path) -> None:
    root = write_app(tmp_path)
    proc = codewitness_cli(root, "run", "--", "no-such-program-xyz")
    assert proc.returncode == 2
    assert "cannot find 'no-such-program-xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_sensor_imports_only_the_standard_library_and_leaf_modules(tmp_path: Path) -> None:
    out = run_python(
        tmp_path,
        """
        import sys
        import codewitness
        sensor = codewitness.init(manifest="none.json", include=["x.*"], spool_dir="spool")
        assert sensor is not None
        ours = sorted(m for m in sys.modules if m.startswith("codewitness"))
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"sqlalchemy", "typer", "rich", "opentelemetry"})
        print(" ".join(ours))
        print(" ".join(heavy) or "-")
        """,
    )
    ours, heavy = out.splitlines()
    allowed = {
        "codewitness",
        "codewitness._version",
        "codewitness._read",
        "codewitness.config",
        "codewitness.errors",
        "codewitness.facts",
        "codewitness.model",
        "codewitness.semconv",
        # The plug-ins that ride on the sensor: standard library only as well.
        "codewitness.behavior",
        "codewitness.behavior.review",
        "codewitness.invariants",
        "codewitness.invariants._expr",
        "codewitness.invariants.decorators",
        "codewitness.invariants.plugin",
        "codewitness.invariants.registry",
        "codewitness.invariants.rules",
    }
    assert {m for m in ours.split() if not m.startswith("codewitness.sensor")} <= allowed
    assert heavy == "-"
