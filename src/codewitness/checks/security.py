"""Security checks (CW3xx): ruff's S rules, detect-secrets, and AST rules for what they miss.

* ruff (flake8-bandit ``S`` rules) runs as one subprocess over the files in scope: SQL built from
  strings, ``shell=True``, ``eval``, ``verify=False``, hard-coded passwords, ``requests`` without a
  timeout (reported as CW307), ... Its noisiest rules (``assert``, ``import subprocess``,
  ``random`` for crypto, bare ``try/except/pass``) are replaced by our own narrower ones.
* detect-secrets' token detectors (cloud keys, GitHub/Slack/Stripe/OpenAI tokens, private keys)
  run on lines that hold a long quoted token. Its entropy and keyword detectors are left out:
  in source code they mostly find hashes and fixture ids, and ruff covers passwords.
* our own rules: state-changing web handlers without an auth check (CW303), secrets or whole
  requests logged (CW304), broad exceptions swallowed (CW305), placeholder credentials whatever
  the variable name (CW306), outbound HTTP without timeout beyond requests/httpx (CW307), the
  global unseeded random generator (CW308), and output ordered by set iteration (CW309).

Example:
    >>> src = SourceFile(Path("x.py"), "x.py")
    >>> src.__dict__["text"] = "try:\\n    work()\\nexcept Exception:\\n    return_value = None\\n"
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
RUFF_IGNORE = ("S101", "S110", "S112", "S311", "S403", "S404", "S603", "S607")
#: ruff rules reported under one of our own ids instead of CW301.
RUFF_AS = {"S113": "CW307"}
_RUFF_HIGH = frozenset({"S102", "S301", "S307", "S501", "S506", "S602", "S605", "S608", "S611", "S701", "S702"})

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
        if f is None or not code or not f.in_scope(line):
            continue
        rule_id = RUFF_AS.get(code, "CW301")
        severity: Severity | None = None
        if rule_id == "CW301":
            severity = "high" if code in _RUFF_HIGH else None
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
        from detect_secrets.settings import transient_settings
    except ImportError:
        raise MissingExtraError("check", "Secret scanning (detect-secrets)") from None
    findings = []
    with transient_settings({"plugins_used": [{"name": name} for name in _SECRET_PLUGINS]}):
        for f in files:
            if not _SECRET_HINT.search(f.text):
                continue
            for number, line in enumerate(f.lines, start=1):
                if len(line) > 2000 or not _SECRET_HINT.search(line) or not f.in_scope(number):
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


def _route_methods(decorator: ast.expr) -> tuple[set[str], str] | None:
    """HTTP methods and path of a route decorator (Flask, FastAPI, Starlette-style), else None."""
    if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
        return None
    attr = decorator.func.attr
    path = ""
    if decorator.args and isinstance(decorator.args[0], ast.Constant) and isinstance(decorator.args[0].value, str):
        path = decorator.args[0].value
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
    is_test = "test" in f.rel.rsplit("/", 1)[-1] or "/tests/" in f"/{f.rel}"

    def add(rule_id: str, node: ast.AST, message: str, **props: Any) -> None:
        line = getattr(node, "lineno", 1)
        if f.in_scope(line):
            out.append(
                Finding(
                    rule_id,
                    f.rel,
                    line,
                    message,
                    column=getattr(node, "col_offset", 0) + 1,
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
    if not file_wide_auth:
        routes = _starlette_routes(calls)
        for node in functions:
            _check_handler(node, add, routes.get(node.name))
    for node in f.of(ast.ExceptHandler):
        if _handler_swallows(node):
            add("CW305", node, "broad exception handler hides every error (only pass/continue/return constant)")
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
        _check_call(node, imports, add, seeded=seeded, is_test=is_test)
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
    node: ast.FunctionDef | ast.AsyncFunctionDef, add: Any, route: tuple[set[str], str] | None = None
) -> None:
    methods: set[str] = set(route[0]) if route else set()
    path = route[1] if route else ""
    for decorator in node.decorator_list:
        route = _route_methods(decorator)
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


def _check_call(node: ast.Call, imports: _Imports, add: Any, *, seeded: bool, is_test: bool) -> None:
    qualified = imports.qualify(node.func)
    if qualified in _NO_TIMEOUT_CALLS and not any(kw.arg == _NO_TIMEOUT_CALLS[qualified] for kw in node.keywords):
        if not any(kw.arg is None for kw in node.keywords):  # **kwargs may carry it
            add("CW307", node, f"{qualified}() without a timeout")
    elif qualified and qualified.startswith("random.") and not is_test:
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
