"""Security checks (CW3xx): ruff's S rules, detect-secrets, and AST rules for what they miss.

* ruff (flake8-bandit ``S`` rules) runs as one subprocess over the files in scope: ``shell=True``,
  ``eval``, ``verify=False``, hard-coded passwords, ``requests`` without a timeout (reported as CW307),
  ... with bandit's severities. Its noisiest rules (``assert``, ``import subprocess``, ``random`` for
  crypto, bare ``try/except/pass``, any formatted string that looks like SQL) are replaced by our own
  narrower ones.
* detect-secrets' token detectors (cloud keys, GitHub/Slack/Stripe/OpenAI tokens, private keys)
  run on lines that hold a long quoted token. Its entropy and keyword detectors are left out:
  in source code they mostly find hashes and fixture ids, and ruff covers passwords.
* our own rules: state-changing web handlers without an auth check (CW303), secrets or whole
  requests logged (CW304), broad exceptions swallowed (CW305), placeholder credentials whatever
  the variable name (CW306), outbound HTTP without timeout beyond requests/httpx (CW307), the
  global unseeded random generator (CW308), output ordered by set iteration (CW309), and SQL text
  built from values that are neither constants, escaped names nor placeholders (CW310).

Example:
    >>> src = SourceFile(Path("x.py"), "x.py")
    >>> src.__dict__["text"] = "try:\\n    work()\\nexcept Exception:\\n    pass\\n"
    >>> [f.rule_id for f in ast_findings(src)]
    ['CW305']
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from codewitness.checks.context import CheckContext, SourceFile
from codewitness.checks.findings import Finding
from codewitness.checks.rules import Severity
from codewitness.errors import MissingExtraError

__all__ = ["ast_findings", "ruff_findings", "run", "secret_findings"]

#: ruff S rules we leave out, and why: replaced by a narrower rule of ours, or noise in application code.
RUFF_IGNORE = ("S101", "S110", "S112", "S311", "S403", "S404", "S603", "S607", "S608")
#: ruff rules reported under one of our own ids instead of CW301.
RUFF_AS = {"S113": "CW307"}
#: ruff S rules whose findings are high: those bandit (where the S rules come from) rates high severity. Its
#: medium ones (exec, eval, pickle, yaml.load, raw SQL, ...) stay medium: they are often deliberate (a plugin
#: loader's exec) and fail the gate only where the project's fail_on says so.
_RUFF_HIGH = frozenset({"S201", "S501", "S502", "S503", "S504", "S507", "S602", "S605", "S609", "S701"})
#: Phrases in ruff's message for a shell command that is a plain literal (bandit: low severity).
_LITERAL_SHELL = "seems safe"

# -- ruff ----------------------------------------------------------------------------------------


def _ruff_binary() -> str:
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise MissingExtraError("check", "The security check (ruff's S rules)") from None
        return found


def start_ruff(files: list[SourceFile]) -> subprocess.Popen[bytes] | None:
    """Start ruff over ``files`` in the background (it runs on its own threads while we parse)."""
    if not files:
        return None
    args = [
        _ruff_binary(),
        "check",
        "--isolated",
        "--no-cache",
        "--exit-zero",
        "--output-format",
        "json",
        "--select",
        "S",
        "--ignore",
        ",".join(RUFF_IGNORE),
        "--",
        *(str(f.path) for f in files),
    ]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def ruff_findings(proc: subprocess.Popen[bytes] | None, files: list[SourceFile]) -> list[Finding]:
    """Collect ruff's results and turn them into findings on in-scope lines."""
    if proc is None:
        return []
    out, err = proc.communicate()
    try:
        results = json.loads(out or b"[]")
    except ValueError:
        raise MissingExtraError(
            "check", f"ruff gave no JSON ({err.decode(errors='replace')[:200]}); the ruff"
        ) from None
    by_path = {str(f.path): f for f in files}
    findings = []
    for item in results:
        f = by_path.get(str(Path(item.get("filename", ""))))
        code = str(item.get("code") or "")
        line = int((item.get("location") or {}).get("row") or 1)
        if f is None or not code.startswith("S") or not f.in_scope(line):
            continue  # syntax errors come as findings too: the file is counted as not valid Python instead
        rule_id = RUFF_AS.get(code, "CW301")
        severity: Severity | None = None
        if rule_id == "CW301" and code in _RUFF_HIGH:
            severity = "low" if _LITERAL_SHELL in str(item.get("message", "")) else "high"
        findings.append(
            Finding(
                rule_id,
                f.rel,
                line,
                f"{code} {item.get('message', '')}".strip(),
                column=int((item.get("location") or {}).get("column") or 1),
                severity=severity,
                snippet=f.line_text(line),
                properties={"upstream": f"ruff {code}", "url": item.get("url")},
            )
        )
    return findings


# -- detect-secrets ------------------------------------------------------------------------------

_SECRET_PLUGINS = (
    "ArtifactoryDetector",
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
#: Lines worth giving to detect-secrets: a long quoted token, a URL with credentials, or a key header.
_SECRET_HINT = re.compile(r"""["'][^"'\s]{16,}|-----BEGIN|://[^/\s:@]+:[^/\s@]+@""")


_URL_AUTH = re.compile(r"://[^/\s:@]+:(?P<password>[^/\s@]+)@")
_PLACEHOLDER_PASSWORD = re.compile(
    r"^(pw|pwd|pass|passwd|tiger|test|demo|foo|bar|user|x+|\*+|<[^>]*>|\$\{?\w+\}?|\{\w*\}|%s|:\w+)$"
    r"|secret|password|changeme|example|dummy|placeholder|redacted",
    re.I,
)


def _placeholder_auth(line: str) -> set[str]:
    """{"Basic Auth Credentials"} when every URL password on the line is a placeholder (``user:pw@``, ``${PASS}``)."""
    passwords = [m.group("password") for m in _URL_AUTH.finditer(line)]
    if passwords and all(_PLACEHOLDER_PASSWORD.search(p) for p in passwords):
        return {"Basic Auth Credentials"}
    return set()


def secret_findings(files: Iterable[SourceFile]) -> list[Finding]:
    """Secrets detect-secrets recognises, on in-scope lines."""
    try:
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import get_plugins, transient_settings
    except ImportError:
        raise MissingExtraError("check", "Secret scanning (detect-secrets)") from None
    findings = []
    with transient_settings({"plugins_used": [{"name": name} for name in _SECRET_PLUGINS]}):
        # Each detector reports only where one of its own patterns matches: a line none matches is skipped
        # without detect-secrets' per-line, per-plugin machinery (most of the scan's time).
        plugins = list(get_plugins())
        patterns = [r for p in plugins for r in getattr(p, "denylist", None) or ()]
        exact = all(getattr(p, "denylist", None) for p in plugins)
        for f in files:
            if not _SECRET_HINT.search(f.text):
                continue
            for number, line in enumerate(f.lines, start=1):
                if len(line) > 2000 or not _SECRET_HINT.search(line) or not f.in_scope(number):
                    continue
                if exact and not any(r.search(line) for r in patterns):
                    continue
                kinds = sorted({secret.type for secret in scan_line(line)} - _placeholder_auth(line))
                if kinds:
                    findings.append(
                        Finding(
                            "CW302",
                            f.rel,
                            number,
                            f"possible secret in source: {', '.join(kinds)}",
                            snippet=line,
                            properties={"upstream": "detect-secrets", "types": kinds},
                        )
                    )
    return findings


# -- our own AST rules ---------------------------------------------------------------------------

_ROUTE_METHODS = {"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE"}
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_AUTH_WORDS = re.compile(
    r"login|auth|permission|perm\b|has_perm|current_user|request\.user|is_authenticated|g\.user|jwt|token|"
    r"api_key|apikey|oauth|verify|require_user|requires_user|admin_required|roles?_required|staff|superuser|"
    r"session\[|Security\(|HTTPBearer|APIKeyHeader|401|403|forbidden|unauthori[sz]ed|signature|guard|protected",
    re.IGNORECASE,
)
_SECRET_PARTS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "ssn",
        "cvv",
        "passphrase",
        "bearer",
    }
)
_SECRET_PAIRS = {
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("auth", "header"),
    ("client", "secret"),
    ("secret", "key"),
    ("card", "number"),
}
_NOT_SECRET_PARTS = frozenset(
    {
        "count",
        "len",
        "length",
        "max",
        "min",
        "num",
        "limit",
        "type",
        "name",
        "id",
        "usage",
        "expires",
        "expiry",
        "url",
        "path",
        "file",
        "ttl",
        "kind",
        "tokens",
        "hash",
        "hashed",
        "field",
        "label",
        "prompt",
        "policy",
        "required",
        "valid",
        "reset",
        "changed",
        "set",
        "strength",
        "hint",
        "env",
        "var",
        "header_name",
        "param",
    }
)
_WHOLE_REQUEST = re.compile(r"^(request|req)(\.(headers|cookies|META|form|json|body|data|args|values|environ))?$")
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "fatal"})
_PLACEHOLDER = re.compile(
    r"^(?:"
    r"(?:<\s*)?(?:your|my|insert|enter|put|add)[-_ ]?(?:real[-_ ]|own[-_ ])?"
    r"(?:openai[-_ ]|aws[-_ ]|stripe[-_ ]|github[-_ ])?"
    r"(?:api[-_ ]?key|key|token|secret(?:[-_ ]key)?|password|pass|access[-_ ]key|auth[-_ ]token)"
    r"(?:[-_ ]?here)?(?:\s*>)?"
    r"|change[-_ ]?me|replace[-_ ]?me|changeit"
    r"|todo[-_:]? ?(?:add|set|insert)?[-_ ]?(?:api[-_ ]?key|key|token|secret|password)"
    r"|sk-(?:x{4,}|\.{3,}|\*{4,}|your\S*|proj-x{4,}|\.\.\.\S*)"
    r"|(?:password|secret|admin|letmein|qwerty)123!?|supersecret(?:key|password)?|s3cr3t|p@ssw0rd|hunter2"
    r")$",
    re.IGNORECASE,
)
_NO_TIMEOUT_CALLS = {
    "urllib.request.urlopen": "timeout",
    "http.client.HTTPConnection": "timeout",
    "http.client.HTTPSConnection": "timeout",
    "aiohttp.ClientSession": "timeout",
    "socket.create_connection": "timeout",
    "smtplib.SMTP": "timeout",
    "smtplib.SMTP_SSL": "timeout",
    "ftplib.FTP": "timeout",
    "urllib3.PoolManager": "timeout",
}
_RANDOM_FUNCS = frozenset(
    {
        "random",
        "randint",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "uniform",
        "randrange",
        "gauss",
        "getrandbits",
        "triangular",
        "betavariate",
        "expovariate",
        "normalvariate",
    }
)


def _identifier_parts(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [p for p in spaced.lower().split("_") if p]


def _is_secret_name(name: str) -> bool:
    parts = _identifier_parts(name)
    if not parts or any(p in _NOT_SECRET_PARTS for p in parts):
        return False
    if any(p in _SECRET_PARTS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


class _Imports:
    """Local name -> qualified name, from the file's imports (``from urllib import request as r`` ...)."""

    def __init__(self, nodes: list[ast.AST]) -> None:
        self.names: dict[str, str] = {}
        for node in nodes:  # only Import/ImportFrom nodes are passed
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        self.names[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualify(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.names:
            return None
        return ".".join([self.names[node.id], *reversed(parts)])


def _is_set_expr(node: ast.expr) -> bool:
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset")


def _is_log_call(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    if isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS:
        owner = ast.unparse(func.value).lower()
        return "log" in owner or owner in ("logging", "structlog", "self._log")
    return False


def _gives_up(stmt: ast.stmt) -> bool:
    """``pass``, ``...``, ``continue``, ``break``, or returning nothing, a constant or an empty collection."""
    if isinstance(stmt, ast.Pass | ast.Continue | ast.Break):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return True  # `...` or a comment-like string
    if isinstance(stmt, ast.Return):
        value = stmt.value
        return (
            value is None
            or isinstance(value, ast.Constant)
            or (isinstance(value, ast.List | ast.Tuple | ast.Set) and not value.elts)
            or (isinstance(value, ast.Dict) and not value.keys)
        )
    return False


#: Methods that release or stop something: a failure to release during cleanup has nothing left to protect.
_CLEANUP = frozenset(
    {
        "close",
        "aclose",
        "close_sync",
        "unlink",
        "remove",
        "rmdir",
        "rmtree",
        "cancel",
        "kill",
        "terminate",
        "shutdown",
        "release",
        "disconnect",
        "cleanup",
        "stop",
        "join",
        "dispose",
        "detach",
        "unregister",
    }
)


def _best_effort_cleanup(body: list[ast.stmt]) -> bool:
    """A ``try`` body that only releases things (``conn.close()``, ``os.unlink(tmp)``, ``await f.aclose()``):
    swallowing a failure to release is the idiom of best-effort cleanup, not a hidden error."""
    for stmt in body:
        value = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(value, ast.Await):
            value = value.value
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in _CLEANUP:
            return False
    return bool(body)


def _handler_swallows(handler: ast.ExceptHandler) -> bool:
    """A bare or ``Exception``/``BaseException`` handler whose whole body silently gives up.

    A handler that does anything else — assigns a fallback, logs, re-raises, uses the error — made a
    choice; the AI-typical flaw is the one that hides every error behind ``pass`` or ``return None``.
    """
    if handler.type is not None:
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if not any(isinstance(t, ast.Name) and t.id in ("Exception", "BaseException") for t in types):
            return False
    return all(_gives_up(stmt) for stmt in handler.body)


#: Modules whose ``patch`` is a test double, not an HTTP verb (``@mock.patch("pkg.name")``).
_MOCK_MODULES = ("unittest.mock", "mock", "pytest_mock", "asynctest")


def _route_methods(decorator: ast.expr, imports: _Imports) -> tuple[set[str], str] | None:
    """HTTP methods and path of a route decorator (Flask, FastAPI, Starlette-style), else None.

    A route's path starts with ``/`` (or is empty, under a router prefix); ``@mock.patch("pkg.mod.name")``
    names an object to replace, and a decorator from a mock library is never a route.
    """
    if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
        return None
    qualified = imports.qualify(decorator.func) or ""
    if any(qualified == m or qualified.startswith(m + ".") for m in _MOCK_MODULES):
        return None
    attr = decorator.func.attr
    path = ""
    given = decorator.args[0] if decorator.args else None
    given = next((kw.value for kw in decorator.keywords if kw.arg in ("path", "rule")), given)
    if isinstance(given, ast.Constant) and isinstance(given.value, str):
        path = given.value
        if path and not path.startswith("/"):
            return None  # not a URL path: a dotted target (mock.patch), a name, a file
    if attr in _ROUTE_METHODS:
        return {_ROUTE_METHODS[attr]}, path
    if attr in ("route", "api_route", "add_url_rule"):
        methods = {"GET"}
        for kw in decorator.keywords:
            if kw.arg == "methods":
                methods = {str(c.value).upper() for c in ast.walk(kw.value) if isinstance(c, ast.Constant)}
        return methods, path
    return None


def _django_methods(decorator: ast.expr) -> set[str] | None:
    text = ast.unparse(decorator)
    if text.endswith("require_POST"):
        return {"POST"}
    if "require_http_methods" in text:
        return {str(c.value).upper() for c in ast.walk(decorator) if isinstance(c, ast.Constant)}
    return None


def ast_findings(f: SourceFile) -> list[Finding]:
    """Our own security rules over one parsed file."""
    tree = f.tree
    if tree is None:
        return []
    imports = _Imports(f.of(ast.Import, ast.ImportFrom))
    out: list[Finding] = []

    def add(rule_id: str, node: ast.AST, message: str, severity: Severity | None = None, **props: Any) -> None:
        line = getattr(node, "lineno", 1)
        if f.in_scope(line):
            out.append(
                Finding(
                    rule_id,
                    f.rel,
                    line,
                    message,
                    column=getattr(node, "col_offset", 0) + 1,
                    severity=severity,
                    snippet=f.line_text(line),
                    properties=props,
                )
            )

    docstrings = {id(n.value) for n in f.of(ast.Expr) if isinstance(n.value, ast.Constant)}
    calls = f.of(ast.Call)
    functions = f.of(ast.FunctionDef, ast.AsyncFunctionDef)
    file_wide_auth = any(
        any(kw.arg == "dependencies" and _AUTH_WORDS.search(ast.unparse(kw.value)) for kw in n.keywords) for n in calls
    ) or any(
        any("before_request" in ast.unparse(d) for d in n.decorator_list) and _AUTH_WORDS.search(ast.unparse(n))
        for n in functions
    )
    seeded = any(imports.qualify(n.func) == "random.seed" for n in calls)
    order_free = _order_free_values(calls, f.of(ast.Compare))
    if not file_wide_auth:
        routes = _starlette_routes(calls)
        for node in functions:
            _check_handler(node, add, imports, routes.get(node.name))
    for node in f.of(ast.Try, ast.TryStar):
        if _best_effort_cleanup(node.body):
            continue
        for handler in node.handlers:
            if _handler_swallows(handler):
                add("CW305", handler, "broad exception handler hides every error (only pass/continue/return constant)")
    for node in f.of(ast.Constant):
        text = node.value
        if (
            isinstance(text, str)
            and len(text) <= 64
            and id(node) not in docstrings
            and _PLACEHOLDER.match(text.strip())
        ):
            add("CW306", node, f"placeholder credential {node.value!r}")
    for node in calls:
        _check_call(node, imports, add, seeded=seeded, order_free=order_free)
    _check_sql(f, add)
    for node in f.of(ast.For, ast.AsyncFor, ast.comprehension):
        if _is_set_expr(node.iter):
            body = node.body if isinstance(node, ast.For | ast.AsyncFor) else []
            effects = any(
                isinstance(n, ast.Yield | ast.YieldFrom)
                or (
                    isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute)
                    and n.func.attr in ("append", "write", "send", "put", "insert", "extend")
                )
                or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print")
                for stmt in body
                for n in ast.walk(stmt)
            )
            if effects:
                add(
                    "CW309",
                    node if hasattr(node, "lineno") else node.iter,
                    "loop over a set produces output in run-dependent order",
                )
    return out


def _starlette_routes(calls: list[ast.Call]) -> dict[str, tuple[set[str], str]]:
    """Endpoints registered with Starlette's ``Route(path, endpoint, methods=[...])``, by function name."""
    routes: dict[str, tuple[set[str], str]] = {}
    for call in calls:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name != "Route" or len(call.args) < 2 or not isinstance(call.args[1], ast.Name):
            continue
        path = (
            call.args[0].value if isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str) else ""
        )
        methods = {"GET"}
        for kw in call.keywords:
            if kw.arg == "methods":
                methods = {str(c.value).upper() for c in ast.walk(kw.value) if isinstance(c, ast.Constant)}
        routes[call.args[1].id] = (methods, path)
    return routes


def _check_handler(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    add: Any,
    imports: _Imports,
    route: tuple[set[str], str] | None = None,
) -> None:
    methods: set[str] = set(route[0]) if route else set()
    path = route[1] if route else ""
    for decorator in node.decorator_list:
        route = _route_methods(decorator, imports)
        if route:
            methods |= route[0]
            path = path or route[1]
        django = _django_methods(decorator)
        if django:
            methods |= django
    if not methods or not (methods & _MUTATING or "admin" in path.lower()):
        return
    evidence = " ".join(ast.unparse(d) for d in node.decorator_list)
    evidence += " " + ast.unparse(node.args) + " " + " ".join(ast.unparse(s) for s in node.body)
    if _AUTH_WORDS.search(evidence):
        return
    shown = "/".join(sorted(methods & _MUTATING)) or "GET"
    add(
        "CW303",
        node,
        f"{shown} handler {node.name}() {path or ''} has no authentication or permission check".replace("  ", " "),
    )


#: Callees that do not care in which order a collection's items come: SQL parameters (a set's items bound to
#: ``IN (?, ?, ...)``), counting, set algebra, sorting, aggregates.
_ORDER_FREE_CALLS = frozenset(
    {
        "execute",
        "executemany",
        "execute_fn",
        "execute_write",
        "fetch",
        "fetchall",
        "fetchrow",
        "fetchval",
        "query",
        "len",
        "set",
        "frozenset",
        "sorted",
        "sum",
        "min",
        "max",
        "any",
        "all",
        "Counter",
    }
)


def _order_free_values(calls: list[ast.Call], compares: list[ast.Compare]) -> set[int]:
    """ids of expressions whose consumer ignores order: arguments of :data:`_ORDER_FREE_CALLS`, ``x in <expr>``."""
    found: set[int] = set()
    for call in calls:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in _ORDER_FREE_CALLS:
            found.update(id(a) for a in call.args)
            found.update(id(kw.value) for kw in call.keywords)
    for compare in compares:
        for op, right in zip(compare.ops, compare.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                found.add(id(right))
    return found


def _check_call(node: ast.Call, imports: _Imports, add: Any, *, seeded: bool, order_free: set[int]) -> None:
    qualified = imports.qualify(node.func)
    if qualified in _NO_TIMEOUT_CALLS and not any(kw.arg == _NO_TIMEOUT_CALLS[qualified] for kw in node.keywords):
        if not any(kw.arg is None for kw in node.keywords):  # **kwargs may carry it
            add("CW307", node, f"{qualified}() without a timeout")
    elif qualified and qualified.startswith("random."):
        fn = qualified.split(".", 1)[1]
        if (fn in _RANDOM_FUNCS and not seeded) or (fn == "Random" and not node.args and not node.keywords):
            add("CW308", node, f"{qualified}() uses an unseeded generator")
    if _is_log_call(node):
        values: list[ast.expr] = list(node.args) + [
            kw.value for kw in node.keywords if kw.arg not in ("exc_info", "extra")
        ]
        for value in values:
            for leaf in _logged_values(value):
                text = ast.unparse(leaf)
                name = leaf.attr if isinstance(leaf, ast.Attribute) else leaf.id if isinstance(leaf, ast.Name) else ""
                if _WHOLE_REQUEST.match(text):
                    add("CW304", node, f"logs the whole request object ({text})")
                    return
                if name and _is_secret_name(name):
                    add("CW304", node, f"logs a secret ({text})")
                    return
    if (
        isinstance(node.func, ast.Name)
        and node.func.id in ("list", "tuple")
        and node.args
        and _is_set_expr(node.args[0])
        and id(node) not in order_free
    ):
        add("CW309", node, f"{node.func.id}(set(...)) has run-dependent order; use sorted()")
    elif (
        isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and isinstance(node.func.value, ast.Constant)
        and node.args
        and _is_set_expr(node.args[0])
    ):
        add("CW309", node, "joining a set gives run-dependent order; join sorted(...)")


def _logged_values(node: ast.expr) -> Iterator[ast.expr]:
    """Names and attributes whose values end up in a log message (f-strings, %, .format, concatenation)."""
    if isinstance(node, ast.Name | ast.Attribute):
        yield node
    elif isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                yield from _logged_values(part.value)
    elif isinstance(node, ast.BinOp):
        yield from _logged_values(node.left)
        yield from _logged_values(node.right)
    elif isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _logged_values(elt)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            yield from _logged_values(arg)


# -- SQL built from strings (CW310) ----------------------------------------------------------------

#: Text that reads as SQL (the same shapes ruff's S608 looks for).
_SQL_TEXT = re.compile(
    r"\b(?:select\s.*\sfrom\s|delete\s+from\s|(?:insert|replace)\s.*\svalues\s*\(|update\s.*\sset\s)",
    re.IGNORECASE | re.DOTALL,
)
#: Functions whose result is safe inside SQL text: identifier quoting and escaping.
_SQL_ESCAPE = re.compile(r"escape|quote|ident|sanitize|placeholder", re.IGNORECASE)
#: Request input read directly (Flask, Django, Starlette/FastAPI, aiohttp, datasette).
_REQUEST_INPUT = re.compile(
    r"\b(?:request|req)\.(?:args|form|values|json|get_json|data|GET|POST|query_params|path_params|params|"
    r"query|cookies|headers|body|url_vars|match_info)\b|\binput\(",
)
_NUMERIC_CALLS = frozenset({"int", "float", "len", "round", "abs", "bool"})
_SQL_FRAGMENT = re.compile(r"(?:sql|_clauses?|wheres?|order_by|ctes)$", re.IGNORECASE)
_FORMAT_FIELD = re.compile(r"%(?:\((?P<name>\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifrx]")


def _sql_safe(node: ast.expr) -> bool:
    """Whether ``node``'s value is harmless inside SQL text: a constant, a number, an escaped or quoted
    identifier, or placeholders (``", ".join("?" ...)``)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.IfExp):
        return _sql_safe(node.body) and _sql_safe(node.orelse)
    if isinstance(node, ast.BoolOp):  # " AND ".join(where_clauses) or "1 = 1"
        return all(_sql_safe(v) for v in node.values)
    if isinstance(node, ast.JoinedStr):
        return all(_sql_safe(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv):
        numeric = (
            isinstance(side, ast.Constant) and isinstance(side.value, int | float) for side in (node.left, node.right)
        )
        return any(numeric) or (_sql_safe(node.left) and _sql_safe(node.right))
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in _NUMERIC_CALLS or _SQL_ESCAPE.search(name):
            return True
        if name == "replace" and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "'":
            return True  # value.replace("'", "''"): SQL string escaping
        if name == "join" and isinstance(func, ast.Attribute) and node.args:
            return _sql_safe(func.value) and _joins_safe_items(node.args[0])
        return False
    if isinstance(node, ast.Name | ast.Attribute):
        leaf = node.attr if isinstance(node, ast.Attribute) else node.id
        # placeholders, quoted_table, escaped_name; an UPPER_CASE name is a constant by convention; a name that
        # says it holds SQL (where_clause, union_sql, order_by) is a fragment the code composed, not a value
        return bool(_SQL_ESCAPE.search(leaf) or _SQL_FRAGMENT.search(leaf)) or (leaf.isupper() and len(leaf) > 1)
    return False


def _joins_safe_items(items: ast.expr) -> bool:
    if isinstance(items, ast.GeneratorExp | ast.ListComp):
        return _sql_safe(items.elt)
    if isinstance(items, ast.BinOp) and isinstance(items.op, ast.Mult):  # ["?"] * n
        return any(isinstance(s, ast.List) and all(_sql_safe(e) for e in s.elts) for s in (items.left, items.right))
    if isinstance(items, ast.List | ast.Tuple):
        return all(_sql_safe(e) for e in items.elts)
    return _sql_safe(items)


def _sql_pieces(node: ast.expr) -> tuple[str, list[tuple[str, ast.expr]]] | None:
    """The literal text of a string built from values, and each value with the text before it.

    Understands f-strings, ``"...".format(...)``, ``"..." % (...)`` and ``+`` concatenation; ``None``
    when ``node`` builds no string from values.
    """
    if isinstance(node, ast.JoinedStr):
        text, values = "", []
        for part in node.values:
            if isinstance(part, ast.Constant):
                text += str(part.value)
            elif isinstance(part, ast.FormattedValue):
                values.append((text, part.value))
                text += "?"
        return (text, values) if values else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        import string

        template = node.func.value.value
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        spread = [kw.value for kw in node.keywords if kw.arg is None]
        text, values, auto = "", [], 0
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError:
            return None
        for literal, field, _spec, _conv in parsed:
            text += literal
            if field is None:
                continue
            key = re.split(r"[.\[]", field, maxsplit=1)[0]
            value: ast.expr | None
            if key == "":
                value = node.args[auto] if auto < len(node.args) else None
                auto += 1
            elif key.isdigit():
                value = node.args[int(key)] if int(key) < len(node.args) else None
            else:
                value = keywords.get(key)
            if value is None:
                value = spread[0] if spread else ast.Name(id=key)  # **mapping: unknown values
            values.append((text, value))
            text += "?"
        return (text, values) if values else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        template = str(node.left.value)
        right = node.right
        given = list(right.elts) if isinstance(right, ast.Tuple) else [right]
        named = (
            {str(k.value): v for k, v in zip(right.keys, right.values, strict=True) if isinstance(k, ast.Constant)}
            if isinstance(right, ast.Dict)
            else {}
        )
        text, values, position = "", [], 0
        last = 0
        for match in _FORMAT_FIELD.finditer(template):
            text += template[last : match.start()]
            last = match.end()
            name = match.group("name")
            value = named.get(name, right) if name else (given[position] if position < len(given) else right)
            position += 0 if name else 1
            values.append((text, value))
            text += "?"
        return (text + template[last:], values) if values else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        operands: list[ast.expr] = []
        stack: list[ast.expr] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add):
                stack += [current.right, current.left]
            else:
                operands.append(current)
        if not any(isinstance(o, ast.Constant) and isinstance(o.value, str) for o in operands):
            return None
        text, values = "", []
        for operand in operands:
            if isinstance(operand, ast.Constant):
                text += str(operand.value)
            else:
                inner = _sql_pieces(operand)
                if inner is not None:
                    values += [(text + before, value) for before, value in inner[1]]
                    text += inner[0]
                else:
                    values.append((text, operand))
                    text += "?"
        return (text, values) if values else None
    return None


def _check_sql(f: SourceFile, add: Any) -> None:
    """CW310: SQL text built from values by string formatting.

    Values that cannot change the statement (constants, numbers, escaped or quoted identifiers,
    ``?`` placeholders) are fine. A value inside a quoted SQL literal (``name = '{name}'``) or read
    straight from a request is an injection: high. Other values (SQL fragments built elsewhere, names)
    are for a reviewer to confirm: medium.
    """
    reported: set[int] = set()
    nodes: list[ast.expr] = f.of(ast.BinOp, ast.Call, ast.JoinedStr)
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset, -(n.end_col_offset or 0))):
        if node.lineno in reported:
            continue
        pieces = _sql_pieces(node)
        if pieces is None or not _SQL_TEXT.search(pieces[0]):
            continue
        unsafe = [(before, value) for before, value in pieces[1] if not _sql_safe(value)]
        if not unsafe:
            continue
        reported.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        quoted = [ast.unparse(v) for before, v in unsafe if before.count("'") % 2 == 1]
        from_request = [ast.unparse(v) for _, v in unsafe if _REQUEST_INPUT.search(ast.unparse(v))]
        shown = ", ".join(dict.fromkeys(ast.unparse(v) for _, v in unsafe))
        if quoted or from_request:
            why = (
                f"inside a quoted SQL literal ({', '.join(quoted)})"
                if quoted
                else f"from the request ({', '.join(from_request)})"
            )
            add("CW310", node, f"SQL text built with a value {why}: pass it as a query parameter", severity="high")
        else:
            add("CW310", node, f"SQL text built from {shown}: check each is escaped or pass values as parameters")


def run(ctx: CheckContext) -> list[Finding]:
    """All security rules over the in-scope Python files."""
    files = list(ctx.python_files())
    proc = start_ruff(files)
    findings: list[Finding] = []
    try:
        for f in files:
            findings.extend(ast_findings(f))
        findings.extend(secret_findings(files))
    finally:
        findings.extend(ruff_findings(proc, files))
    return findings
