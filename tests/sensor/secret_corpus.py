"""A corpus of synthetic secrets in the shapes applications hold them, and the leak oracle.

Every secret is made here from a seeded random generator in the real format of its kind (prefix,
alphabet, length, check digit), so none is a real credential and none is written into the
repository. Each :class:`Secret` is a value an application might pass to a function, return from
it, or put into an exception -- a string, bytes, a mapping, a named tuple, a dataclass, a
``__slots__`` object, a pydantic model, a header list, a web framework request -- and the parts
of it (``needles``) that must never be seen outside the process.

``leaks(secret, text)`` is the oracle: any needle, or any 8 characters of one (12 of one made of
digits only), found in ``text`` -- half a token is a leak too.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.cookies
import json
import random
import string
import types
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

SEED = 20261114

B62 = string.ascii_letters + string.digits
B64 = B62 + "+/"
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
UPPER36 = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Secret:
    """One secret as an application holds it.

    ``value``: the object passed around; ``needles``: the parts that must not leave the process;
    ``param``: the parameter name the value is passed under (names matter: ``dsn``, ``db_url``);
    ``family``: what kind of secret, for the figures.
    """

    family: str
    value: Any
    needles: tuple[str, ...]
    param: str = "payload"
    label: str = ""

    @property
    def text(self) -> str:
        """The value as the application would format it into a message (``f"{value}"``)."""
        return f"{self.value}"


_HEX = frozenset(string.hexdigits)


def leaks(secret: Secret, text: str) -> list[str]:
    """The needles of ``secret`` found in ``text``, whole or in part: any 8 characters of one, but
    12 where those 8 are all digits or hex digits. The records are full of random hex (ids, input
    digests, fingerprints), hundreds of thousands of 8-character windows in the corpus test; 8 hex
    characters (32 bits) of a token then turn up by chance now and then (seen once:
    ``436ae0d4`` of a Slack app token's hex tail), 12 (48 bits) practically never."""
    found = []
    for needle in secret.needles:
        short = 12 if set(needle) <= _HEX else 8
        if len(needle) <= short:
            if needle in text:
                found.append(needle)
            continue
        for start in range(len(needle) - 8 + 1):
            size = 12 if set(needle[start : start + 8]) <= _HEX else 8
            piece = needle[start : start + size]
            if len(piece) == size and piece in text:
                found.append(f"{piece} (part of {needle[:4]}...)")
                break
    return found


class _Rng:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def s(self, alphabet: str, n: int) -> str:
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def word(self) -> str:
        return self.r.choice(["orders", "billing", "inventory", "shop", "payments", "reports", "auth", "search"])

    def password(self, symbols: str = "!#$%^*") -> str:
        # What people type: words, digits, symbols -- but unique enough to be found if leaked.
        return self.s(string.ascii_letters, 6) + self.s(string.digits, 3) + self.r.choice(symbols) + self.s(B62, 4)

    def url_password(self) -> str:
        """A password as it can stand in a URL (``#``, ``?`` and ``/`` would end the authority)."""
        return self.password("!$*-._~")

    def card(self, prefix: str, length: int) -> str:
        body = prefix + self.s(string.digits, length - len(prefix) - 1)
        for check in string.digits:
            if _luhn(body + check):
                return body + check
        raise AssertionError("unreachable")


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _pem(kind: str, r: _Rng, lines: int = 12) -> tuple[str, tuple[str, ...]]:
    body = [r.s(B64, 64) for _ in range(lines)] + [r.s(B64, 24) + "=="]
    text = f"-----BEGIN {kind}-----\n" + "\n".join(body) + f"\n-----END {kind}-----\n"
    return text, (body[1], body[5], body[-2])


def _jwt(r: _Rng) -> tuple[str, tuple[str, ...]]:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    claims = {"sub": r.s(string.digits, 8), "email": f"{r.s(string.ascii_lowercase, 6)}@example.com", "exp": 1893456000}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signature = r.s(B64URL, 43)
    return f"{header}.{payload}.{signature}", (payload, signature)


# -- shapes the structural items use -----------------------------------------------------------


class Credentials(NamedTuple):
    username: str
    password: str


class ServiceAuth(NamedTuple):
    service: str
    token: str
    scopes: tuple[str, ...]


class SlottedClient:
    __slots__ = ("api_key", "base_url", "secret", "timeout")

    def __init__(self, base_url: str, api_key: str, secret: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.secret = secret
        self.timeout = 10.0


@dataclass
class DatabaseConfig:
    host: str
    port: int
    user: str
    password: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class QueueConfig:
    name: str
    dsn: str


def _tokens(r: _Rng) -> Iterator[Secret]:
    def token(family: str, value: str, *needles: str) -> Secret:
        return Secret(family, value, needles or (value,))

    yield token("aws access key id", "AKIA" + r.s(UPPER36, 16))
    yield token("aws access key id (session)", "ASIA" + r.s(UPPER36, 16))
    body = r.s(B62, 36)
    yield token("github token", "ghp_" + body, body)
    body = r.s(B62, 36)
    yield token("github oauth token", "gho_" + body, body)
    body = r.s(B62, 36)
    yield token("github app token", "ghs_" + body, body)
    body = r.s(B62, 22) + "_" + r.s(B62, 59)
    yield token("github fine-grained token", "github_pat_" + body, body)
    body = r.s(B64URL, 20)
    yield token("gitlab token", "glpat-" + body, body)
    body = r.s(B64URL, 20)
    yield token("gitlab deploy token", "gldt-" + body, body)
    body = f"{r.s(string.digits, 13)}-{r.s(string.digits, 13)}-{r.s(B62, 24)}"
    yield token("slack bot token", "xoxb-" + body, body)
    body = f"{r.s(string.digits, 13)}-{r.s(string.digits, 13)}-{r.s(string.digits, 13)}-{r.s(HEX, 32)}"
    yield token("slack user token", "xoxp-" + body, body)
    body = f"1-A{r.s(UPPER36, 10)}-{r.s(string.digits, 13)}-{r.s(HEX, 64)}"
    yield token("slack app token", "xapp-" + body, body)
    path = f"T{r.s(UPPER36, 10)}/B{r.s(UPPER36, 10)}/{r.s(B62, 24)}"
    yield token("slack webhook", f"https://hooks.slack.com/services/{path}", path)
    path = f"{r.s(string.digits, 19)}/{r.s(B64URL, 68)}"
    yield token("discord webhook", f"https://discord.com/api/webhooks/{path}", path)
    value = f"M{r.s(B62, 25)}.{r.s(B64URL, 6)}.{r.s(B64URL, 38)}"
    yield token("discord bot token", value, value[1:])
    body = r.s(B62, 24)
    yield token("stripe secret key", "sk_live_" + body, body)
    body = r.s(B62, 24)
    yield token("stripe restricted key", "rk_live_" + body, body)
    body = r.s(B62, 32)
    yield token("stripe webhook secret", "whsec_" + body, body)
    body = r.s(B64URL, 48) + "T3BlbkFJ" + r.s(B64URL, 48)
    yield token("openai project key", "sk-proj-" + body, body)
    body = r.s(B62, 20) + "T3BlbkFJ" + r.s(B62, 20)
    yield token("openai legacy key", "sk-" + body, body)
    body = r.s(B64URL, 93) + "AA"
    yield token("anthropic key", "sk-ant-api03-" + body, body)
    body = r.s(B64URL, 35)
    yield token("google api key", "AIza" + body, body)
    body = r.s(B64URL, 28)
    yield token("google oauth client secret", "GOCSPX-" + body, body)
    body = r.s(B64URL, 120)
    yield token("google oauth access token", "ya29." + body, body)
    body = f"{r.s(B64URL, 22)}.{r.s(B64URL, 43)}"
    yield token("sendgrid key", "SG." + body, body)
    body = r.s(B62, 36)
    yield token("npm token", "npm_" + body, body)
    body = r.s(B62, 36)
    yield token("npmrc line", f"//registry.npmjs.org/:_authToken=npm_{body}", body)
    body = r.s(B64URL, 150)
    yield token("pypi token", "pypi-AgEIcHlwaS5vcmc" + body, body)
    body = r.s(B62, 34)
    yield token("hugging face token", "hf_" + body, body)
    auth = r.s(HEX, 32)
    yield token("twilio auth token", f"TWILIO_ACCOUNT_SID=AC{r.s(HEX, 32)}\nTWILIO_AUTH_TOKEN={auth}", auth)
    yield token("twilio api key sid", "SK" + r.s(HEX, 32))
    yield token("mailchimp key", r.s(HEX, 32) + "-us14")
    body = r.s(B64URL, 43)
    yield token("square oauth secret", "sq0csp-" + body, body)
    body = r.s(B64URL, 60)
    yield token("square access token", "EAAA" + body, body)
    body = r.s(HEX, 32)
    yield token("shopify token", "shpat_" + body, body)
    body = "AA" + r.s(B64URL, 33)
    yield token("telegram bot token", f"{r.s(string.digits, 10)}:{body}", body)
    body = r.s(HEX, 64)
    yield token("digitalocean token", "dop_v1_" + body, body)
    body = r.s(HEX, 32)
    yield token("databricks token", "dapi" + body, body)
    key = r.s(B64, 86) + "=="
    yield token(
        "azure storage connection string",
        f"DefaultEndpointsProtocol=https;AccountName=st{r.word()};AccountKey={key};EndpointSuffix=core.windows.net",
        key,
    )
    sig = urllib.parse.quote(r.s(B64, 43) + "=", safe="")
    yield token(
        "azure sas url",
        f"https://st{r.word()}.blob.core.windows.net/exports/day.csv?sv=2022-11-02&ss=b&srt=o&sp=r"
        f"&se=2026-12-01T00:00:00Z&spr=https&sig={sig}",
        sig,
    )
    body = r.s(B62, 3) + "8Q~" + r.s(B64URL.replace("-", "~"), 34)
    yield token("azure ad client secret", body)
    key = r.s(B64, 43) + "="
    yield token(
        "azure service bus connection string",
        f"Endpoint=sb://ns-{r.word()}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={key}",
        key,
    )
    public = r.s(HEX, 32)
    yield token(
        "sentry dsn", f"https://{public}@o{r.s(string.digits, 6)}.ingest.sentry.io/{r.s(string.digits, 7)}", public
    )
    jwt, parts = _jwt(r)
    yield token("jwt", jwt, *parts)
    jwt, parts = _jwt(r)
    yield token("jwt bearer header", f"Authorization: Bearer {jwt}", *parts)
    for kind in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        pem, needles = _pem(kind, r)
        yield token(f"pem {kind.lower()}", pem, *needles)
    pgp_body = [r.s(B64, 64) for _ in range(10)]
    pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + "\n".join(pgp_body) + "\n-----END PGP PRIVATE KEY BLOCK-----"
    yield token("pgp private key", pgp, pgp_body[2], pgp_body[7])
    pem, needles = _pem("PRIVATE KEY", r, 8)
    account = {
        "type": "service_account",
        "project_id": f"{r.word()}-prod",
        "private_key_id": r.s(HEX, 40),
        "private_key": pem,
        "client_email": f"svc@{r.word()}-prod.iam.gserviceaccount.com",
    }
    yield token("gcp service account json", json.dumps(account), *needles)
    key = r.s(HEX, 64)
    yield token("hex private key (0x)", "0x" + key, key)
    key = r.s(HEX, 64)
    yield token("hex private key", f"signing wallet with key {key}", key)
    secret = r.s(B64, 40)
    yield token("aws secret key (assignment)", f"aws_secret_access_key = {secret}", secret)
    secret = r.s(B64, 40)
    yield token("aws secret key (env)", f"AWS_SECRET_ACCESS_KEY={secret}", secret)
    secret = r.s(B64, 40)
    yield token(
        "aws secret key (bare)", f"SignatureDoesNotMatch: the request signature computed with {secret} differs", secret
    )
    key = r.s(HEX, 32)
    yield token("datadog api key", f"DD_API_KEY={key}", key)
    body = "AKCp8" + r.s(B62, 68)
    yield token("artifactory api key", body)
    body = "00" + r.s(B64URL, 40)
    yield token("okta api token", f"Authorization: SSWS {body}", body)
    body = r.s(B64URL, 40)
    yield token("opaque bearer token", f"Bearer {body}", body)


def _urls(r: _Rng) -> Iterator[Secret]:
    schemes = [
        ("postgres", "app", "db.internal:5432/shop"),
        ("postgresql+psycopg", "svc_orders", "10.0.3.7:5432/orders?sslmode=require"),
        ("mysql", "root", "mysql:3306/app"),
        ("mysql+pymysql", "report", "replica.internal/reports"),
        ("redis", "", "cache:6379/0"),
        ("rediss", "default", "redis-12345.cloud.example.com:6380/0"),
        ("mongodb", "admin", "mongo:27017/?authSource=admin"),
        ("mongodb+srv", "app", "cluster0.ab1cd.mongodb.net/shop?retryWrites=true"),
        ("amqp", "guest", "rabbit:5672/vhost"),
        ("amqps", "worker", "b-1234.mq.eu-west-1.amazonaws.com:5671"),
        ("https", "deploy", "git.example.com/team/repo.git"),
        ("ftp", "ftpuser", "files.example.com/incoming"),
        ("smtp", "mailer", "smtp.example.com:587"),
    ]
    for scheme, user, rest in schemes:
        password = r.url_password()
        yield Secret(f"url credentials ({scheme})", f"{scheme}://{user}:{password}@{rest}", (password,))
    password = f"p@ss:{r.s(B62, 10)}"
    yield Secret("url credentials (unescaped @ and :)", f"postgres://app:{password}@db/shop", (password[5:],))
    password = r.password()
    quoted = urllib.parse.quote(password + "@/", safe="")
    yield Secret("url credentials (percent-encoded)", f"postgres://app:{quoted}@db/shop", (quoted,))


def _text(r: _Rng) -> Iterator[Secret]:
    pair = base64.b64encode(f"ann:{r.password()}".encode()).decode()
    yield Secret("basic auth header", f"Authorization: Basic {pair}", (pair,))
    pair = base64.b64encode(f"proxy:{r.password()}".encode()).decode()
    yield Secret("proxy basic auth header", f"Proxy-Authorization: Basic {pair}", (pair,))
    session, csrf = r.s(string.ascii_lowercase + string.digits, 32), r.s(B62, 32)
    yield Secret("cookie header", f"Cookie: sessionid={session}; csrftoken={csrf}; theme=dark", (session, csrf))
    session = r.s(B64URL, 40)
    yield Secret("set-cookie header", f"Set-Cookie: session={session}; HttpOnly; Secure; Path=/", (session,))
    key = r.s(B62, 32)
    yield Secret("api key header", f"X-Api-Key: {key}", (key,))
    key = r.s(B62, 32)
    yield Secret("api key in query", f"https://api.example.com/v1/items?api_key={key}&page=2", (key,))
    password = r.password()
    yield Secret(
        "password in query",
        f"https://example.com/login?user=ann&password={urllib.parse.quote(password)}",
        (password[:6],),
    )
    token = r.s(B64URL, 40)
    yield Secret(
        "access token in query", f"https://example.com/cb?state=xyz&access_token={token}&expires=3600", (token,)
    )
    password = r.password()
    yield Secret("env PASSWORD=", f"PASSWORD={password}", (password,))
    password = r.password()
    yield Secret("shell export", f"export DB_PASSWORD='{password}'", (password,))
    key, password = r.s(B62, 50), r.password()
    dotenv = f"DEBUG=1\nSECRET_KEY={key}\nDATABASE_URL=postgres://app:{password}@db/shop\nALLOWED_HOSTS=*\n"
    yield Secret(".env file", dotenv, (key, password))
    password = r.password()
    yield Secret("json password", json.dumps({"user": "ann", "password": password, "remember": True}), (password,))
    secret = r.s(B64URL, 40)
    yield Secret("json client secret", json.dumps({"client_id": "web", "client_secret": secret}), (secret,))
    token = r.s(B62, 40)
    yield Secret("yaml token", f"service:\n  name: {r.word()}\n  token: {token}\n", (token,))
    password = r.password()
    yield Secret("libpq dsn", f"host=db port=5432 user=app password={password} dbname=shop", (password,))
    password = r.password()
    yield Secret(
        "sql server connection string",
        f"Server=tcp:{r.word()}.database.windows.net,1433;Database=db;User ID=app;Password={password};Encrypt=true;",
        (password,),
    )


def _cards(r: _Rng) -> Iterator[Secret]:
    visa = r.card("4", 16)
    yield Secret("card (spaces)", " ".join(visa[i : i + 4] for i in range(0, 16, 4)), (visa[:12], visa[4:]))
    master = r.card("53", 16)
    yield Secret("card (dashes)", "-".join(master[i : i + 4] for i in range(0, 16, 4)), (master[:12], master[4:]))
    amex = r.card("37", 15)
    yield Secret("card (amex, plain)", amex, (amex,))
    visa = r.card("4", 16)
    yield Secret("card as int", int(visa), (visa,))
    discover = r.card("6011", 16)
    yield Secret("card int in a dict", {"amount": 1299, "number": int(discover)}, (discover,))


def _structures(r: _Rng) -> Iterator[Secret]:
    password = r.password()
    yield Secret("dict password", {"user": "ann", "password": password}, (password,))
    password = r.password()
    yield Secret("dsn parameter", f"host=db user=app password={password}", (password,), param="dsn")
    password = r.password()
    yield Secret("db_url parameter", f"mysql://app:{password}@db/app", (password,), param="db_url")
    password = r.password()
    yield Secret("conn_string parameter", f"Server=db;Uid=app;Pwd={password};", (password,), param="conn_string")
    key = r.s(B62, 40)
    yield Secret("dsn parameter (opaque)", f"{key}", (key,), param="dsn")
    password, redis = r.password(), r.password()
    environment = {
        "PATH": "/usr/local/bin:/usr/bin",
        "HOME": "/home/app",
        "DATABASE_URL": f"postgres://app:{password}@db:5432/shop",
        "REDIS_URL": f"redis://:{redis}@cache:6379/0",
        "LANG": "C.UTF-8",
    }
    yield Secret("environment dict", environment, (password, redis))
    a, b = "ghp_" + r.s(B62, 36), "ghp_" + r.s(B62, 36)
    yield Secret("secrets as dict keys", {a: "user-1", b: "user-2"}, (a[4:], b[4:]))
    key = r.s(B64, 40)
    yield Secret("opaque secret as dict key", {key: {"scopes": ["read"]}}, (key,))
    password = r.password()
    yield Secret("namedtuple", Credentials("ann", password), (password,))
    token = r.s(B62, 32)
    yield Secret("namedtuple token field", ServiceAuth("billing", token, ("read", "write")), (token,))
    key, secret = r.s(B62, 32), r.s(B62, 32)
    yield Secret("__slots__ object", SlottedClient("https://api.example.com", key, secret), (key, secret))
    password = r.password()
    yield Secret("dataclass", DatabaseConfig("db", 5432, "app", password, {"sslmode": "require"}), (password,))
    password = r.password()
    yield Secret("dataclass dsn field", QueueConfig("jobs", f"amqp://worker:{password}@rabbit/jobs"), (password,))
    yield from _pydantic(r)
    token = r.s(B64URL, 40)
    yield Secret(
        "header pair list",
        [("Content-Type", "application/json"), ("Authorization", f"Bearer {token}")],
        (token,),
    )
    token, session = r.s(B64URL, 40), r.s(B64URL, 32)
    yield Secret(
        "asgi header tuples",
        [
            (b"host", b"shop.example.com"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"cookie", f"session={session}".encode()),
        ],
        (token, session),
    )
    token, bearer = r.s(B64URL, 32), r.s(B64URL, 40)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/login",
        "query_string": f"token={token}".encode(),
        "headers": [(b"authorization", f"Bearer {bearer}".encode())],
    }
    yield Secret("asgi scope", scope, (token, bearer))
    basic, session, key = base64.b64encode(f"ann:{r.password()}".encode()).decode(), r.s(B62, 32), r.s(B62, 32)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/reports",
        "HTTP_AUTHORIZATION": f"Basic {basic}",
        "HTTP_COOKIE": f"sessionid={session}",
        "QUERY_STRING": f"api_key={key}",
    }
    yield Secret("wsgi environ", environ, (basic, session, key))
    password = r.password()
    yield Secret("json bytes body", json.dumps({"username": "ann", "password": password}).encode(), (password,))
    password = r.password()
    yield Secret(
        "form bytes body", f"username=ann&password={urllib.parse.quote(password)}&remember=1".encode(), (password[:6],)
    )
    basic, session, password = base64.b64encode(f"ann:{r.password()}".encode()).decode(), r.s(B62, 32), r.password()
    raw = (
        f"POST /login HTTP/1.1\r\nHost: shop.example.com\r\nAuthorization: Basic {basic}\r\n"
        f"Cookie: sessionid={session}\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
        f"username=ann&password={password}"
    ).encode()
    yield Secret("raw http request bytes", raw, (basic, session, password))
    session = r.s(B64URL, 40)
    response = f"HTTP/1.1 302 Found\r\nLocation: /\r\nSet-Cookie: session={session}; HttpOnly\r\n\r\n".encode()
    yield Secret("raw http response bytearray", bytearray(response), (session,))
    session, csrf = r.s(string.ascii_lowercase + string.digits, 32), r.s(B62, 32)
    yield Secret("cookie dict", {"sessionid": session, "csrftoken": csrf}, (session, csrf))
    jwt, parts = _jwt(r)
    yield Secret("flask session cookie dict", {"session": jwt}, parts)
    session = r.s(string.ascii_lowercase + string.digits, 32)
    cookie = http.cookies.SimpleCookie()
    cookie.load(f"sessionid={session}; theme=dark")
    yield Secret("SimpleCookie", cookie, (session,))
    yield from _sqlalchemy(r)
    password = r.url_password()
    yield Secret("urlsplit result", urllib.parse.urlsplit(f"postgres://app:{password}@db/shop"), (password,))
    password = r.password()
    yield Secret("argparse namespace", argparse.Namespace(password=password, verbose=True), (password,))
    token = r.s(B62, 40)
    yield Secret("SimpleNamespace", types.SimpleNamespace(token=token, user="ann"), (token,))
    password = r.password()
    yield Secret("name/value lists", [["user", "ann"], ["password", password]], (password,))
    token = "ghp_" + r.s(B62, 36)
    yield Secret("set of tokens", {token, "public"}, (token[4:],))
    token = r.s(B64URL, 40)
    yield Secret("exception as a value", PermissionError(f"rejected access_token={token}"), (token,))
    password = r.password()
    yield Secret("nested", {"job": {"steps": [{"name": "load", "env": {"PGPASSWORD": password}}]}}, (password,))
    token = "ghp_" + r.s(B62, 36)
    yield Secret("tuple dict key", {("github", token): 1}, (token[4:],))
    token = "ghp_" + r.s(B62, 36)
    filler = "lorem ipsum " * 41 + "dolor "  # 498 characters: the token straddles the 512 cut
    yield Secret("token cut by truncation (value)", filler + token + " tail", (token[4:],))
    token = "ghp_" + r.s(B62, 36)
    filler = "lorem ipsum " * 165  # 1980 characters: the token straddles the message's 2000 cut
    yield Secret("token cut by truncation (message)", filler + token + " tail", (token[4:],))
    yield from _requests(r)


def _pydantic(r: _Rng) -> Iterator[Secret]:
    import pydantic

    class Login(pydantic.BaseModel):
        username: str
        password: str

    class Client(pydantic.BaseModel):
        name: str
        api_key: pydantic.SecretStr

    class Settings(pydantic.BaseModel):
        app_name: str
        database_url: str
        debug: bool = False

    password = r.password()
    yield Secret("pydantic model", Login(username="ann", password=password), (password,))
    key = r.s(B62, 32)
    yield Secret("pydantic SecretStr", Client(name="billing", api_key=pydantic.SecretStr(key)), (key,))
    password = r.password()
    yield Secret(
        "pydantic settings", Settings(app_name="shop", database_url=f"postgres://app:{password}@db/shop"), (password,)
    )


def _sqlalchemy(r: _Rng) -> Iterator[Secret]:
    from sqlalchemy.engine import URL

    password = r.password()
    url = URL.create("postgresql+psycopg", username="app", password=password, host="db", database="shop")
    yield Secret("sqlalchemy URL", url, (password,))


def _requests(r: _Rng) -> Iterator[Secret]:
    import requests

    token = r.s(B64URL, 40)
    prepared = requests.Request(
        "POST", "https://api.example.com/charge", headers={"Authorization": f"Bearer {token}"}, json={"amount": 5}
    ).prepare()
    yield Secret("requests PreparedRequest", prepared, (token,))


def framework_requests(r: _Rng | None = None) -> list[Secret]:
    """Real request objects of Starlette, Django and Flask carrying credentials."""
    r = r or _Rng(SEED + 1)
    out: list[Secret] = []
    from starlette.requests import Request

    bearer, session, query = r.s(B64URL, 40), r.s(B62, 32), r.s(B62, 32)
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/reset/{query}",
        "raw_path": f"/reset/{query}".encode(),
        "query_string": f"token={query}".encode(),
        "headers": [(b"authorization", f"Bearer {bearer}".encode()), (b"cookie", f"session={session}".encode())],
        "path_params": {"reset_token": query},
        "server": ("testserver", 80),
        "scheme": "http",
    }
    out.append(Secret("starlette request", Request(scope), (bearer, session, query)))
    out.append(_django_request(r))
    out.append(_flask_request(r))
    return out


def configure_django() -> None:
    """Minimal settings for real Django request objects (once per process)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], SECRET_KEY="test-only", ROOT_URLCONF=__name__)
        django.setup()


def _django_request(r: _Rng) -> Secret:
    configure_django()
    from django.test import RequestFactory

    bearer, session, query = r.s(B64URL, 40), r.s(B62, 32), r.s(B62, 32)
    request = RequestFactory().get(
        f"/reports/?api_key={query}", HTTP_AUTHORIZATION=f"Bearer {bearer}", HTTP_COOKIE=f"sessionid={session}"
    )
    return Secret("django request", request, (bearer, session, query))


urlpatterns: list[Any] = []  # ROOT_URLCONF of the Django settings above


def _flask_request(r: _Rng) -> Secret:
    import flask

    app = flask.Flask("corpus")
    bearer, session, query = r.s(B64URL, 40), r.s(B62, 32), r.s(B62, 32)
    with app.test_request_context(
        f"/orders?access_token={query}", headers={"Authorization": f"Bearer {bearer}", "Cookie": f"session={session}"}
    ):
        request = flask.request._get_current_object()  # type: ignore[attr-defined]
    return Secret("flask request", request, (bearer, session, query))


def corpus() -> list[Secret]:
    """Every secret of the corpus, the same on every run."""
    r = _Rng(SEED)
    items: list[Secret] = []
    for part in (_tokens, _urls, _text, _cards, _structures):
        items.extend(part(r))
    items.extend(framework_requests())
    return [dataclasses.replace(item, label=f"{i:03d} {item.family}") for i, item in enumerate(items)]
