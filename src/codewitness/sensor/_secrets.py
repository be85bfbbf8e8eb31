"""What a secret looks like: names, and text patterns in families, each linear-time.

The patterns cover the families secret scanners know (detect-secrets' plugins and more): private
keys, JWTs, provider tokens with a fixed prefix (OpenAI/Anthropic, Stripe, GitHub, GitLab, Slack,
Discord, AWS, Google, SendGrid, npm, PyPI, Hugging Face, Twilio, Mailchimp, Square, Shopify,
Telegram, DigitalOcean, Azure, Databricks), credentials inside URLs, secret HTTP headers,
``name=value`` text under a secret-looking name, ``Basic``/``Bearer`` credentials, 256-bit hex
keys, card numbers (Luhn) and opaque random-looking tokens.

They run inside the host on every captured string, so each is written to cost time linear in
the text: every repeat has an upper bound, no repeat contains another, and a pattern that can
fail late (after a long run) can only start at a word boundary or a literal. The text they see is
bounded too (see :mod:`codewitness.sensor.snapshot`: a long value is cut *before* it is
redacted, to a window a little larger than what is kept).

Why not detect-secrets itself: it is a dependency of the gate, not of the host; importing it
costs a third of a second and brings ``requests`` and ``yaml`` into the application; it scans
line by line for files; and several of its patterns repeat without bound (its JWT pattern takes
over a second on 48 kB of ``"eyJ"``). The test suite runs the secret corpus through
detect-secrets too and checks that what it finds, these patterns find.

Example:
    >>> scrub("connect postgres://app:hunter2hunter2@db/shop")
    'connect postgres://app:[REDACTED]@db/shop'
"""

from __future__ import annotations

import collections
import importlib
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "NAME_PATTERNS",
    "REDACTED",
    "compile_names",
    "looks_random",
    "luhn_ok",
    "scrub",
    "unsafe_repeat",
]

REDACTED = "[REDACTED]"

#: Names (argument names, keys, attributes, header names) whose values are never captured.
NAME_PATTERNS: tuple[str, ...] = (
    r"pass(word|wd|phrase|code)|^pass$|^pwd$|^pw$",
    r"secret",
    r"token",
    r"api[-_]?key",
    r"(private|access|secret|signing|encryption|master|account)[-_]?key",
    r"^key$",
    r"_key$",
    r"auth(orization|_header)?$",
    r"credential",
    r"cookie",
    r"session[-_]?(id|key)|^sessionid$",
    r"^(cvv|cvc|ssn|pin|otp|pan)$",
    r"card[-_]?(number|no|num)|^card$|^cc_?(num|number)$",
    r"dsn$",
    r"(db|database|conn(ection)?|broker|redis|mongo(db)?|amqp|sqlalchemy)[-_]?(url|uri|str(ing)?|dsn)$",
    r"^conn[-_]?str(ing)?$",
    r"webhook",
    r"signature$|^sig$",
    r"^(jwt|bearer|csrf|xsrf)",
)

# A run of token characters; where an unquoted value ends; what may stand between a name and
# its value (``=``, ``:``, ``=>``, ``:=``, or the ``', '`` of a repr'd pair).
_TOK = r"A-Za-z0-9_\-"
_END_VALUE = r"\s\"'&;,<>(){}\[\]\\"
_SEP = r"(?:\\{0,3}[\"'])?\s{0,4}(?:=>|:=|[:=]|\\{0,3}[\"'],)\s{0,4}"


def _left(literal: str) -> str:
    """The literal, not preceded by a letter or digit: a word boundary written after the literal,
    so that the literal comes first and the engine searches for it instead of trying every position."""
    return f"{re.escape(literal)}(?<![A-Za-z0-9].{{{len(literal)}}})"


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (as card numbers do)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if position % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(candidate: str) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def looks_random(run: str) -> bool:
    """Whether a run of token characters looks like a generated secret rather than a word.

    Mixed case (and digits, when shorter than 32), few path separators, frequent changes between
    upper case, lower case and digits (about 0.6 of neighbours in random base62; camelCase words
    change at word starts only), and a high character entropy (random base64 has about five bits
    per character). Runs longer than 256 characters are judged by their first 256.
    """
    run = run[:256]
    n = len(run)
    if n < 24 or run.lower() == run or run.upper() == run:  # needs both cases
        return False
    if (n < 32 and not _DIGIT.search(run)) or run.count("/") * 10 > n:
        return False
    if len(_CHANGE.findall(run)) * 10 < n * 4:
        return False
    entropy = -sum(c / n * math.log2(c / n) for c in collections.Counter(run).values())
    return entropy >= min(4.2, math.log2(n) - 0.6)


_DIGIT = re.compile(r"[0-9]")
# A character followed by one of another kind (lower case, upper case, digit, other).
_CHANGE = re.compile(r"[a-z](?=[^a-z])|[A-Z](?=[^A-Z])|[0-9](?=[^0-9])|[^A-Za-z0-9](?=[A-Za-z0-9])")
_HEX64 = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")


def _opaque(run: str) -> bool:
    """A run of token characters that is a 256-bit hex key (SHA-256 digests look the same) or looks random."""
    return _HEX64.fullmatch(run) is not None or looks_random(run)


#: One family: (pattern, triggers, shortest text, matched on the lower-cased text, check).
#: It is tried only on text at least that long holding one of its triggers (literal strings,
#: looked for in the text, or in the lower-cased text when the family is matched there; no
#: triggers: always tried). A ``check`` decides on each match; otherwise the match is replaced --
#: only its group ``v`` when the pattern has one.
_Family = tuple["re.Pattern[str]", tuple[str, ...], int, bool, "Callable[[str], bool] | None"]

# Tokens with a fixed prefix, replaced whole: (trigger, pattern, shortest match).
_PREFIXED: tuple[tuple[str, str, int], ...] = (
    # PEM / OpenSSH / PGP / SSH2 private keys: up to the END line, else to the end of the text.
    (
        "PRIVATE KEY",
        r"----(?:- ?| )BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)? ?-{4,5}"
        r"(?:[\s\S]{0,16384}?-{4,5} ?END [A-Z0-9 ]{0,40}-{4,5}|[\s\S]{0,16384})",
        30,
    ),
    (
        "PuTTY-User-Key-File-",
        r"PuTTY-User-Key-File-[0-9]{1,2}:(?:[\s\S]{0,16384}?Private-MAC: ?[0-9a-fA-F]{0,128}|[\s\S]{0,16384})",
        22,
    ),
    # JWT / JWS / JWE: base64url of '{"' then up to four more dot-separated parts.
    ("eyJ", rf"eyJ[{_TOK}]{{8,16384}}(?:\.[{_TOK}]{{0,16384}}){{0,4}}", 11),
    ("sk-", rf"{_left('sk-')}[{_TOK}]{{20,512}}", 23),  # OpenAI, Anthropic (sk-ant-...), ...
    *((p, rf"{_left(p)}[A-Za-z0-9]{{10,255}}", 18) for p in ("sk_live_", "sk_test_", "rk_live_", "rk_test_")),
    ("whsec_", r"whsec_[A-Za-z0-9+/=]{16,255}", 22),  # Stripe
    *((p, rf"{p}[A-Za-z0-9_]{{30,255}}", 34) for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),  # GitHub
    ("github_pat_", r"github_pat_[A-Za-z0-9_]{22,255}", 33),
    *(
        (p, rf"{p}[{_TOK}]{{20,1024}}", 25)  # GitLab
        for p in (
            "glpat-",
            "gldt-",
            "glft-",
            "glsoat-",
            "glrt-",
            "glcbt-",
            "glimt-",
            "glptt-",
            "glagent-",
            "gloas-",
            "glffct-",
        )
    ),
    ("GR1348941", rf"GR1348941[{_TOK}]{{20,64}}", 29),
    *((f"xox{c}-", rf"xox{c}-[A-Za-z0-9-]{{10,512}}", 15) for c in "abposrec"),  # Slack
    ("xapp-", r"xapp-[A-Za-z0-9-]{10,512}", 15),
    ("hooks.slack.com/", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{10,512}", 35),
    ("/api/webhooks/", rf"discord(?:app)?\.com/api/webhooks/[0-9]{{5,32}}/[{_TOK}]{{20,256}}", 50),
    *(  # AWS access key ids
        (p, rf"{_left(p)}[A-Z0-9]{{16}}(?![A-Za-z0-9])", 20)
        for p in ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "A3T")
    ),
    ("AIza", rf"AIza[{_TOK}]{{35}}", 39),  # Google
    ("GOCSPX-", rf"GOCSPX-[{_TOK}]{{20,64}}", 27),
    ("ya29.", rf"ya29\.[{_TOK}]{{20,2048}}", 25),
    ("SG.", rf"{_left('SG.')}[{_TOK}]{{16,32}}\.[{_TOK}]{{16,64}}", 36),  # SendGrid
    ("npm_", r"npm_[A-Za-z0-9]{36}", 40),  # npm
    ("pypi-", rf"pypi-[{_TOK}]{{50,4096}}", 55),  # PyPI
    ("hf_", rf"{_left('hf_')}[A-Za-z0-9]{{30,64}}", 33),  # Hugging Face
    ("api_org_", r"api_org_[A-Za-z0-9]{30,64}", 38),
    *((p, rf"{_left(p)}[0-9a-fA-F]{{32}}(?![A-Za-z0-9])", 34) for p in ("AC", "SK")),  # Twilio sids
    ("sq0", rf"sq0(?:csp|atp|idp)-[{_TOK}]{{22,64}}", 29),  # Square
    ("EAAA", rf"{_left('EAAA')}[{_TOK}]{{60,80}}", 64),
    *((f"shp{k}_", rf"shp{k}_[a-fA-F0-9]{{32}}", 38) for k in ("at", "ss", "ca", "pa")),  # Shopify
    ("_v1_", r"do[por]_v1_[a-f0-9]{64}", 71),  # DigitalOcean
    ("dapi", rf"{_left('dapi')}[0-9a-f]{{32}}", 36),  # Databricks
    ("AKC", rf"{_left('AKC')}[A-Za-z0-9]{{10,128}}", 13),  # Artifactory
    ("0x", r"0x[0-9a-fA-F]{64}(?![A-Za-z0-9])", 66),  # 256-bit keys in hex (Ethereum style)
    ("Q~", r"[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}", 40),  # Azure AD client secrets
    ("-us", r"[0-9a-f](?<![0-9A-Za-z].)[0-9a-f]{31}-us[0-9]{1,2}(?![0-9A-Za-z])", 36),  # Mailchimp
)

# Names a value follows (matched on lower-cased text): secret HTTP headers, to the end of the
# line; other secret-looking names, to a delimiter; ``Basic``/``Bearer`` credentials.
_HEADER_VALUE = r"\\{1,3}[\"'][^\"'\r\n\\]{0,4096}|b?\"[^\"\r\n]{0,4096}\"?|b?'[^'\r\n]{0,4096}'?|[^\r\n\\]{1,4096}"
_WORD_VALUE = (
    r"\\{1,3}[\"'][^\"'\r\n\\]{0,1024}|"  # a quoted value inside a quoted (JSON in JSON) string
    rf"b?\"[^\"\r\n]{{0,1024}}\"?|b?'[^'\r\n]{{0,1024}}'?|[^{_END_VALUE}]{{1,1024}}"
)
_NAMED: tuple[tuple[str, str, str], ...] = (
    *((h, re.escape(h), _HEADER_VALUE) for h in ("authorization", "cookie", "api-key", "-token")),
    ("pass", "pass(?:word|wd|phrase|code|(?<![a-z0-9]pass)(?![a-z0-9]))", _WORD_VALUE),
    ("pw", "pw(?<![a-z0-9]pw)(?:d|(?![a-z0-9]))", _WORD_VALUE),
    ("secret", "secret", _WORD_VALUE),
    ("token", "token", _WORD_VALUE),
    (
        "key",
        "key(?:(?<=[_-]key)|(?<=apikey)|(?<=accesskey)|(?<=privatekey)|(?<=signingkey)|(?<=accountkey)|(?<=masterkey))",
        _WORD_VALUE,
    ),
    ("credential", "credential", _WORD_VALUE),
    ("signature", "signature(?<=accesssignature)", _WORD_VALUE),
    ("sig", "sig(?<![a-z0-9]sig)(?![a-z0-9])", _WORD_VALUE),
    ("dsn", "dsn(?<![a-z0-9]dsn)", _WORD_VALUE),
    ("conn", "conn(?:ection)?[-_]?str(?:ing)?", _WORD_VALUE),
    (
        "url",
        "url(?:(?<=database_url)|(?<=databaseurl)|(?<=database-url)|(?<=db_url)|(?<=dburl)|(?<=db-url))",
        _WORD_VALUE,
    ),
    ("session", "session[-_]?id", _WORD_VALUE),
    ("otp", "otp(?<![a-z0-9]otp)(?![a-z0-9])", _WORD_VALUE),
)


def _families() -> tuple[_Family, ...]:
    families: list[_Family] = [
        (re.compile(pattern), (trigger,), shortest, False, None) for trigger, pattern, shortest in _PREFIXED
    ]
    # Credentials inside a URL: scheme://user:password@host, and scheme://token@host (Sentry DSNs).
    url = r"://[^\s:/?#@'\"<>]{0,256}:(?P<v>[^\s/'\"<>]{1,256})@|://(?P<w>[^\s:/?#@'\"<>]{8,256})@"
    families.append((re.compile(url), ("://",), 6, False, None))
    # The netloc of a split URL, as its repr shows it: netloc='user:password@host'.
    netloc = r"netloc[\"']?\s{0,4}[:=]\s{0,4}[\"']?[^\s:/@'\"]{0,256}:(?P<v>[^\s/'\"<>]{1,256})@"
    families.append((re.compile(netloc), ("netloc",), 10, True, None))
    for trigger, head, value in _NAMED:
        pattern = rf"{head}[a-z0-9_.-]{{0,32}}{_SEP}(?P<v>{value})"
        families.append((re.compile(pattern), (trigger,), len(trigger) + 2, True, None))
    families.append(
        (re.compile(rf"{_left('basic')}\s{{1,4}}(?P<v>[a-z0-9+/]{{8,4096}}={{0,2}})"), ("basic",), 14, True, None)
    )
    families.append(
        (re.compile(rf"{_left('bearer')}\s{{1,4}}(?P<v>[a-z0-9._~+/-]{{8,4096}}={{0,2}})"), ("bearer",), 15, True, None)
    )
    # Shapes without a literal: Discord and Telegram bot tokens, card numbers (Luhn decides),
    # random-looking opaque tokens and 256-bit hex keys (see _opaque).
    families += [
        (
            re.compile(rf"[MNO](?<![A-Za-z0-9].)[{_TOK}]{{23,27}}\.[{_TOK}]{{6,7}}\.[{_TOK}]{{27,40}}"),
            (),
            59,
            False,
            None,
        ),
        (re.compile(rf"[0-9](?<![0-9].)[0-9]{{7,9}}:[{_TOK}]{{35}}(?![{_TOK}])"), (), 44, False, None),
        (re.compile(r"[0-9](?<![0-9A-Za-z-].)(?:[ -]?[0-9]){12,18}(?![0-9A-Za-z-])"), (), 13, False, _card),
        (
            re.compile(r"[A-Za-z0-9+/_\-](?<![A-Za-z0-9+/_\-].)[A-Za-z0-9+/_\-]{23,16384}={0,2}"),
            (),
            24,
            False,
            _opaque,
        ),
    ]
    return tuple(families)


_FAMILIES = _families()


def _trigger_finder() -> tuple[re.Pattern[str], dict[str, frozenset[int]]]:
    """One pattern finding every family's trigger in the lower-cased text, and which families each
    found trigger starts.

    The pattern is a trie (``a(?:pi-key|uthorization)|...``) preferring the longest trigger at a
    place; occurrences found do not overlap, so a trigger found also starts the families of every
    trigger it contains (``api-key`` starts those of ``key``). A family matched on the text itself
    is started by its trigger in any case; its own pattern then decides.
    """
    triggers = {t.lower() for family in _FAMILIES for t in family[1]}
    starts: dict[str, frozenset[int]] = {}
    for found in triggers:
        starts[found] = frozenset(i for i, family in enumerate(_FAMILIES) if any(t.lower() in found for t in family[1]))
    return re.compile(_trie(triggers)), starts


def _trie(words: Iterable[str]) -> str:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        # Longer continuations first, so the longest trigger at a place is the one found.
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(root)


_TRIGGERS, _STARTS = _trigger_finder()
_UNGATED = frozenset(i for i, family in enumerate(_FAMILIES) if not family[1])
_UNGATED_MIN = min(_FAMILIES[i][2] for i in _UNGATED)
#: Families whose pattern does not start with its trigger: on long text, where every other family
#: is simply searched (that is cheaper than finding the triggers), these still look for it first.
_SLOW_START = frozenset(
    i for i, family in enumerate(_FAMILIES) if family[1] and not family[0].pattern.startswith(re.escape(family[1][0]))
)
#: Up to this length, text is first searched for triggers; longer text is searched for every family.
_SHORT = 256
#: Nothing shorter can match ("pw=x").
_SHORTEST = min(family[2] for family in _FAMILIES)


def _apply(family: _Family, text: str, lower: str) -> str:
    """``text`` with the matches of ``family`` (found in ``lower`` when it says so) replaced."""
    regex, _, _, on_lower, check = family
    parts: list[str] = []
    at = 0
    for match in regex.finditer(lower if on_lower else text):
        if check is not None and not check(match.group()):
            continue
        start, end = match.span()
        for name in ("v", "w"):
            if name in regex.groupindex and match.start(name) != -1:
                start, end = match.span(name)
                break
        parts.append(text[at:start])
        parts.append(REDACTED)
        at = end
    if not parts:
        return text
    parts.append(text[at:])
    return "".join(parts)


def _lowered(text: str) -> str:
    lower = text.lower()
    # A few non-ASCII letters lower-case to two characters; positions must stay the same.
    return lower if len(lower) == len(text) else text.translate(_ASCII_LOWER)


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def scrub(text: str, extra: re.Pattern[str] | None = None) -> str:
    """``text`` with every secret-looking part replaced by ``[REDACTED]``.

    Time is linear in ``len(text)`` for the built-in patterns; callers bound the length.

    Args:
        text: any text.
        extra: the user's own patterns (``sensor.redact_patterns``), replaced whole.
    """
    n = len(text)
    if n < _SHORTEST:
        return text if extra is None else extra.sub(REDACTED, text)
    lower = _lowered(text)
    order: Iterable[int]
    if n <= _SHORT:
        found = _TRIGGERS.findall(lower)
        if not found and n < _UNGATED_MIN:
            return text if extra is None else extra.sub(REDACTED, text)
        chosen: set[int] = set(_UNGATED) if n >= _UNGATED_MIN else set()
        for trigger in found:
            chosen |= _STARTS[trigger]
        order = sorted(chosen)
    else:
        order = range(len(_FAMILIES))
    for index in order:
        family = _FAMILIES[index]
        if n < family[2]:
            continue
        if n > _SHORT and index in _SLOW_START and not any(t in (lower if family[3] else text) for t in family[1]):
            continue
        redacted = _apply(family, text, lower)
        if redacted is not text:
            text = redacted
            lower = _lowered(text)
            n = len(text)
    if extra is not None:
        text = extra.sub(REDACTED, text)
    return text


def compile_names(extra: Iterable[str] = ()) -> re.Pattern[str]:
    """One case-insensitive pattern for the built-in secret names and ``extra`` ones.

    Raises:
        re.error: an extra pattern is not a valid regular expression.
        ValueError: an extra pattern repeats a repeated group (see :func:`unsafe_repeat`).
    """
    extra = tuple(extra)
    _refuse_unsafe(extra, "sensor.redact_names")
    return re.compile("|".join(f"(?:{p})" for p in (*NAME_PATTERNS, *extra)), re.IGNORECASE)


def compile_extra(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """The user's value patterns as one pattern, or None when there are none.

    Raises:
        re.error: a pattern is not a valid regular expression.
        ValueError: a pattern repeats a repeated group (see :func:`unsafe_repeat`).
    """
    patterns = tuple(patterns)
    if not patterns:
        return None
    _refuse_unsafe(patterns, "sensor.redact_patterns")
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def _refuse_unsafe(patterns: tuple[str, ...], setting: str) -> None:
    for pattern in patterns:
        re.compile(pattern)  # a syntax error is reported as such first
        problem = unsafe_repeat(pattern)
        if problem:
            raise ValueError(
                f"{setting}: {pattern!r} {problem}, which can take exponential time on some text; "
                "repeat a single character class instead (e.g. [A-Za-z0-9-]{1,64})"
            )


def unsafe_repeat(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack exponentially, or None.

    A repeated group that itself holds a variable repeat or an alternation (``(a+)+``, ``(a?){20}``,
    ``(\\w|\\d)*``, ``(x{1,9}){1,9}``) can be matched in exponentially many ways. Patterns without such a group
    (a single repeated character class, repeats side by side) stay polynomial, and the sensor
    bounds the text they see.
    """
    try:
        parser: Any = importlib.import_module("re._parser")
        tree = parser.parse(pattern)
    except Exception:  # another Python's private parser: the check is skipped, not the pattern
        return None
    names = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT", "BRANCH", "SUBPATTERN", "ATOMIC_GROUP"}
    ops = {name: getattr(parser, name, None) for name in names}

    def inner(items: Any, in_repeat: bool) -> str | None:
        for op, av in items:
            if op in (ops["MAX_REPEAT"], ops["MIN_REPEAT"]):
                low, high, body = av
                if in_repeat and low != high and _has_width(body):
                    return "repeats a repeated group"
                repeats = high > 1
                found = inner(body, in_repeat or repeats)
                if found:
                    return found
            elif op is ops["BRANCH"]:
                if in_repeat:
                    return "repeats a group of alternatives"
                for branch in av[1]:
                    found = inner(branch, in_repeat)
                    if found:
                        return found
            elif op is ops["SUBPATTERN"]:
                found = inner(av[-1], in_repeat)
                if found:
                    return found
            elif op is ops["POSSESSIVE_REPEAT"] or op is ops["ATOMIC_GROUP"]:
                continue  # possessive and atomic groups never backtrack into themselves
        return None

    return inner(tree, False)


def _has_width(body: Any) -> bool:
    try:
        return bool(body.getwidth()[1])
    except Exception:
        return True
