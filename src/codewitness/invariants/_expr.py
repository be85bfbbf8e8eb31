"""Safe expressions for invariants declared in configuration.

A rule such as ``ensure = "result >= 0 and len(items) > 0"`` is parsed once, checked against an
allow-list, and compiled into a small Python function in which every operation goes through a
guard of this module — never :func:`eval` of the text, nothing from ``builtins`` in reach.

What an expression may do (checked when the rule is loaded):

* read names (the function's parameters, ``result``), constants, and attributes whose name does
  not start with ``_``;
* arithmetic, comparison, ``and``/``or``/``not``, ``x if c else y``, subscripts and slices,
  tuple/list/set/dict displays and comprehensions;
* call the functions in :data:`FUNCTIONS` (with the keywords listed there, never ``key=``) and
  the methods in :data:`METHODS`; nothing else is callable, and no callable can be passed.

What it may do with the values it reads (checked as it runs) — *the host's objects are never
asked to run their own code*:

* operators, comparisons, hashing, truth, loops and the functions above work on **plain
  values**: ``None``, numbers, ``str``, ``bytes``, tuples, lists, dicts, sets, ``range``;
  ``Decimal``, ``Fraction``, ``UUID``, date/time values (with no time zone, ``timezone`` or
  ``ZoneInfo``), enum members; ``OrderedDict``, ``defaultdict``, ``Counter``, ``deque``; and
  objects of classes that define no special method (``__eq__``, ``__add__``, ``__len__``,
  ...), whose operations are Python's defaults. A container counts only if everything in it
  does (checked item by item; each item costs one unit of the budget).
* on any other object (a dataclass, a Pydantic model, a Path, a user collection): read stored
  attributes, test it with ``is`` / ``is not``, and its truth when it defines no ``__bool__``
  or ``__len__``. Anything else is an :class:`UnsafeValueError`.
* an attribute is read from stored data only — the instance's ``__dict__``, ``__slots__``,
  named-tuple fields, plain class-level constants, and the data attributes of the standard
  value types (``date.year``, ``Fraction.numerator``, ``member.value``, ...). Properties and
  other computed attributes are never run (an ORM column already loaded is read from
  ``__dict__``); methods cannot be read.
* methods are called only on the built-in types listed in :data:`METHODS`, through the type's
  own implementation (a ``str`` subclass cannot override ``lower``); ``dict.get`` and ``d[k]``
  never call ``__missing__``, so a ``defaultdict`` is not changed by reading it.
* a loop reads only containers, ``str``/``bytes`` and ``range`` — never an iterator or
  generator, which reading would consume.

Every evaluation runs under a budget: at most :data:`MAX_STEPS` steps in loops (an item costs
the number of operations its loop body evaluates) and :data:`MAX_ITEMS` items checked, copied
or built (a number costs a unit per 64 bits); no single string or sequence over
:data:`MAX_SIZE` items, no integer over :data:`MAX_INT_BITS` bits from ``*``, ``**`` or ``<<``.
Going over raises :class:`ExpressionLimitError` at once, before the work is done. Standard
library only: the runtime sensor applies these rules inside other people's processes.

Example:
    >>> rule = compile_expression("result >= sum(i * 2 for i in items)")
    >>> sorted(rule.names)
    ['items', 'result']
    >>> rule.evaluate({"items": [1, 2], "result": 6})
    True
"""

from __future__ import annotations

import ast
import math
import operator
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from codewitness.errors import ConfigError

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "MAX_SIZE",
    "MAX_STEPS",
    "MAX_TEXT",
    "METHODS",
    "ExpressionError",
    "ExpressionLimitError",
    "SafeExpression",
    "UnsafeValueError",
    "compile_expression",
]

MAX_TEXT = 2_000  # longest expression text
MAX_DEPTH = 100  # deepest nesting of the parsed expression
MAX_STEPS = 100_000  # steps in loops per evaluation: an item costs the operations its loop body evaluates
MAX_ITEMS = 1_000_000  # items checked, copied or built per evaluation
MAX_SIZE = 100_000  # longest string or sequence one operation may build
MAX_INT_BITS = 10_000  # largest integer ``*``, ``**`` or ``<<`` may build
_MAX_NDIGITS = 1_000  # round(x, n): |n| at most this
_MAX_INT_TEXT = 4_300  # int(text): digits at most this (CPython's own default limit)


class ExpressionError(ConfigError):
    """An expression that is not allowed or does not parse; raised when the rule is compiled."""


class ExpressionLimitError(RuntimeError):
    """An evaluation that would go over its step, item, size or integer budget."""


class UnsafeValueError(TypeError):
    """An operation refused on this value: it would run the object's own code or consume it."""


# -- what an expression may call -----------------------------------------------------------------

#: Type names an ``isinstance`` check may name (its second argument must be one, or a tuple of them).
_TYPE_NAMES: Mapping[str, type] = {
    "bool": bool,
    "bytes": bytes,
    "complex": complex,
    "dict": dict,
    "float": float,
    "frozenset": frozenset,
    "int": int,
    "list": list,
    "set": set,
    "str": str,
    "tuple": tuple,
}

#: Keywords each function accepts (``dict`` takes any name).
_KEYWORDS: Mapping[str, frozenset[str]] = {
    "int": frozenset({"base"}),
    "isclose": frozenset({"rel_tol", "abs_tol"}),
    "max": frozenset({"default"}),
    "min": frozenset({"default"}),
    "round": frozenset({"ndigits"}),
    "sorted": frozenset({"reverse"}),
    "sum": frozenset({"start"}),
}

_T = TypeVar("_T")
_MISSING: Any = object()  # an argument not given
_ABSENT: Any = object()  # an attribute not stored
_ODD: Any = object()  # a class whose names cannot be looked up safely


# What one evaluation may still spend: [steps in loops, items, {id: container already checked}].
# A list, not a class: it is made on every evaluation, and a list is the cheapest thing to make.
_Budget = list[Any]
_STEPS, _ITEMS, _CHECKED = 0, 1, 2


def _over(what: str) -> NoReturn:
    raise ExpressionLimitError(f"invariant evaluation went over its budget: {what}")


def _charge(budget: _Budget, items: int) -> None:
    budget[_ITEMS] -= items
    if budget[_ITEMS] < 0:
        _over(f"more than {MAX_ITEMS} items checked, copied or built")


def _build(budget: _Budget, size: int, what: str = "a value") -> None:
    """About to build ``what`` of ``size`` items."""
    if size > MAX_SIZE:
        _over(f"{what} of {size} items (at most {MAX_SIZE})")
    _charge(budget, size)


# -- what a value is -------------------------------------------------------------------------------
#
# Each type is classified once (cached by identity): its kind says which operations may touch its
# instances without running code the host wrote. Special methods are looked up on the type, so
# the type's MRO decides; a class patched after it was first seen keeps its first classification.

_SCALAR, _SEQ, _MAP, _RECORD, _ENUM, _STAMP, _OPAQUE, _FOREIGN = range(8)
_INERT = frozenset({_SCALAR, _SEQ, _MAP, _RECORD, _ENUM, _STAMP})

_TYPE_MRO: Any = type.__dict__["__mro__"]
_TYPE_DICT: Any = type.__dict__["__dict__"]
_TYPE_FLAGS: Any = type.__dict__["__flags__"]
_HEAPTYPE = 1 << 9
_SAMPLE_TUPLE: Any = __import__("collections").namedtuple("_SAMPLE_TUPLE", "a")
_TUPLEGETTER: Any = type(_SAMPLE_TUPLE.__dict__["a"])
_NAMEDTUPLE_REPR: Any = _SAMPLE_TUPLE.__repr__.__code__
_DICT_KEYS: Callable[[Any], Any] = dict.keys
_DICT_VALUES: Callable[[Any], Any] = dict.values
_DICT_ITEMS: Callable[[Any], Any] = dict.items
_DICT_GET: Callable[..., Any] = dict.get

# Exact types whose every operation is C code with no callback: the fast paths skip classifying.
# Sets of ids, not of types: hashing a type would ask its metaclass, which may be the host's code.
_PLAIN = frozenset(map(id, (int, float, str, bool, type(None), bytes, complex)))
_NUMBERS = frozenset(map(id, (int, float, bool)))
_TRUTHY = frozenset(map(id, (bool, int, float, str, type(None), list, tuple, dict, set, bytes)))

#: Special methods a class may define and still be plain: none of them runs when a value is used.
_HARMLESS = frozenset(
    {
        "__abstractmethods__",
        "__annotate__",
        "__annotate_func__",
        "__annotations__",
        "__annotations_cache__",
        "__class_getitem__",
        "__copy__",
        "__dataclass_fields__",
        "__dataclass_params__",
        "__deepcopy__",
        "__del__",
        "__dict__",
        "__doc__",
        "__firstlineno__",
        "__getnewargs__",
        "__getnewargs_ex__",
        "__getstate__",
        "__init__",
        "__init_subclass__",
        "__match_args__",
        "__module__",
        "__new__",
        "__new_member__",
        "__objclass__",
        "__orig_bases__",
        "__parameters__",
        "__post_init__",
        "__qualname__",
        "__reduce__",
        "__reduce_ex__",
        "__replace__",
        "__setstate__",
        "__signature__",
        "__slots__",
        "__static_attributes__",
        "__type_params__",
        "__weakref__",
    }
)
#: Names an enum class of the host may not define: Enum's own special methods read them.
_ENUM_RESERVED = frozenset({"_name_", "_value_", "_value_repr_"})
_TRUTH_METHODS = frozenset({"__bool__", "__len__"})


@dataclass
class _TypeInfo:
    kind: int
    reason: str = ""  # why the type is opaque or foreign
    base: type | None = None  # the trusted class that gave the kind (list, dict, str, ...)
    truth_ok: bool = True
    exact: bool = True  # the type itself is a trusted class (not a subclass of one)
    instance_dict: Any = None  # the C descriptor that yields an instance's __dict__
    zone: Any = None  # the C getter of ``tzinfo`` (datetime and time)
    readers: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    odd: bool = False  # its namespace has names that are not str: nothing is looked up on it


def _trusted() -> dict[int, tuple[type, int | None, bool]]:
    """Trusted classes by id: (class, kind or None for a neutral base, only the exact class)."""
    table: dict[int, tuple[type, int | None, bool]] = {}

    def add(kind: int | None, *classes: Any, exact: bool = False) -> None:
        for cls in classes:
            if isinstance(cls, type):
                table[id(cls)] = (cls, kind, exact)

    add(None, object)
    add(_SCALAR, int, float, complex, bool, str, bytes, bytearray, type(None), type(...), range)
    add(_SEQ, list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items()))
    add(_MAP, dict)
    modules = sys.modules
    collections = modules.get("collections")
    if collections is not None:
        ordered = collections.OrderedDict()
        add(_SEQ, collections.deque, type(ordered.keys()), type(ordered.values()), type(ordered.items()))
        add(_MAP, collections.OrderedDict, collections.defaultdict)
        add(_MAP, collections.Counter, exact=True)
    if (decimal := modules.get("decimal")) is not None:
        add(_SCALAR, decimal.Decimal)
    if (fractions := modules.get("fractions")) is not None:
        add(_SCALAR, fractions.Fraction, exact=True)
    if (uuid := modules.get("uuid")) is not None:
        add(_SCALAR, uuid.UUID, exact=True)
    if (datetime := modules.get("datetime")) is not None:
        add(_SCALAR, datetime.date, datetime.timedelta, datetime.timezone)
        add(_STAMP, datetime.datetime, datetime.time)
        add(None, datetime.tzinfo)
    if (zoneinfo := modules.get("zoneinfo")) is not None:
        add(_SCALAR, zoneinfo.ZoneInfo, exact=True)
    if (enum := modules.get("enum")) is not None:
        add(_ENUM, enum.Enum, getattr(enum, "ReprEnum", None), enum.IntEnum, getattr(enum, "StrEnum", None))
    if (typing := modules.get("typing")) is not None:
        add(None, typing.Generic)
    if (numbers := modules.get("numbers")) is not None:  # the abstract bases of Fraction
        add(None, numbers.Number, numbers.Complex, numbers.Real, numbers.Rational, numbers.Integral)
    return table


_INFO: dict[int, tuple[type, _TypeInfo]] = {}
_CLASSIFYING = threading.local()
_INFO_LIMIT = 4096


def _info(cls: type) -> _TypeInfo:
    entry = _INFO.get(id(cls))
    if entry is not None and entry[0] is cls:
        return entry[1]
    # Classifying can ask about other types (the type of a class attribute), even this one again:
    # on this thread, meanwhile, it is opaque, the safe answer.
    busy: set[int] = _CLASSIFYING.__dict__.setdefault("ids", set())
    if id(cls) in busy:
        return _TypeInfo(kind=_OPAQUE, reason=f"{_qualname(cls)} refers to itself", truth_ok=False)
    busy.add(id(cls))
    try:
        info = _classify(cls)
    finally:
        busy.discard(id(cls))
    if len(_INFO) >= _INFO_LIMIT:
        _INFO.clear()
    _INFO[id(cls)] = (cls, info)
    return info


_TYPE_QUALNAME: Any = type.__dict__["__qualname__"]


def _qualname(cls: type) -> str:
    """A class's name, read without asking its metaclass."""
    return str(_TYPE_QUALNAME.__get__(cls))


def _own_items(cls: type) -> list[tuple[Any, Any]]:
    """A class's own namespace, read by iterating it (no lookup: a key is never hashed or compared)."""
    return list(_TYPE_DICT.__get__(cls).items())


def _own_dict(cls: type) -> dict[str, Any]:
    """A class's own namespace, once its names are known to be plain str."""
    return dict(_own_items(cls))


def _special_methods(cls: type, trusted: Mapping[int, tuple[type, int | None, bool]]) -> list[str]:
    """The special methods ``cls`` itself defines that would run when its instances are used."""
    found: list[str] = []
    for name, value in _own_items(cls):
        if not (name.startswith("__") and name.endswith("__")) or name in _HARMLESS:
            continue
        if not callable(value) and _mro_lookup(type(value), "__get__")[0] is _MISSING:
            continue  # data (``__hash__ = None``, pydantic's ``__class_vars__``): nothing of it runs
        if (type(value) is types.WrapperDescriptorType or type(value) is types.MethodDescriptorType) and (
            value.__name__ == name
        ):
            owner = value.__objclass__  # e.g. int.__format__, copied onto an IntEnum by EnumType
            if trusted.get(id(owner), (None,))[0] is owner:
                continue
        if type(value) is types.FunctionType and value.__code__ is _NAMEDTUPLE_REPR:
            continue  # a named tuple's own __repr__ (tuple's repr, with the field names)
        found.append(name)
    return found


def _classify(cls: type) -> _TypeInfo:
    name = _qualname(cls)
    trusted = _trusted()
    kind: int | None = None
    base: type | None = None
    user: list[type] = []
    has_exact_only = False
    mro: tuple[type, ...] = _TYPE_MRO.__get__(cls)
    if any(type(key) is not str for klass in mro for key, _ in _own_items(klass)):
        # A name that is a str subclass could answer to "__eq__" with its own __eq__: Python's own
        # lookups on this class run the host's code, so no lookup of ours is made on it at all.
        return _TypeInfo(kind=_FOREIGN, reason=f"{name} has attribute names that are not str", truth_ok=False, odd=True)
    foreign: type | None = None
    for klass in mro:
        entry = trusted.get(id(klass))
        if entry is not None and entry[0] is klass:
            if entry[1] is not None and kind is None:
                kind, base = entry[1], klass
            has_exact_only = has_exact_only or entry[2]
        elif not _TYPE_FLAGS.__get__(klass) & _HEAPTYPE:
            foreign = foreign or klass
        else:
            user.append(klass)
    info = _TypeInfo(kind=kind if kind is not None else _RECORD, base=base, exact=not user)
    metaclass = _custom_metaclass(cls)
    info.instance_dict = _instance_dict_descriptor(mro)
    if kind == _STAMP and base is not None:
        info.zone = _TYPE_DICT.__get__(base)["tzinfo"]
    if foreign is not None:
        info.kind = _FOREIGN
        built_on = f" (it is built on {_qualname(foreign)})" if foreign is not cls else ""
        info.reason = f"{name} is not a plain value{built_on}"
    elif metaclass is not None:
        # Trusted code asks about types too (hashing one into an ABC's cache, comparing it): a
        # metaclass of the host's would answer with its own code.
        info.kind = _OPAQUE
        info.reason = f"{name} has a metaclass of its own ({_qualname(metaclass)})"
    else:
        for klass in user:
            special = _special_methods(klass, trusted)
            if special:
                info.kind = _OPAQUE
                info.reason = (
                    f"{name} defines {', '.join(sorted(special)[:3])}"
                    "; invariants never run an object's own code (compare its attributes instead)"
                )
                break
            if has_exact_only:
                info.kind = _OPAQUE
                info.reason = f"{name} subclasses {_qualname(base) if base else '?'}; only the class itself is plain"
                break
            if info.kind == _ENUM and not _enum_class_ok(klass):
                info.kind = _OPAQUE
                info.reason = f"{name} redefines enum internals"
                break
    if info.kind in (_OPAQUE, _FOREIGN):
        info.truth_ok = not any(
            trusted.get(id(k), (None,))[0] is not k and any(key in _TRUTH_METHODS for key, _ in _own_items(k))
            for k in mro
        )
    return info


def _custom_metaclass(cls: type) -> type | None:
    """The first class of ``type(cls)``'s MRO that is neither ``type`` nor a standard metaclass."""
    standard = {id(type), id(object)}
    for module, names in (("abc", ("ABCMeta",)), ("enum", ("EnumType", "EnumMeta"))):
        found = sys.modules.get(module)
        standard.update(id(getattr(found, n)) for n in names if found is not None and hasattr(found, n))
    mro: tuple[type, ...] = _TYPE_MRO.__get__(type(cls))
    return next((klass for klass in mro if id(klass) not in standard), None)


def _enum_class_ok(klass: type) -> bool:
    own = _own_dict(klass)
    if _ENUM_RESERVED.intersection(k for k in own if k != "_value_repr_"):
        return False
    value_repr = own.get("_value_repr_")
    # EnumType sets it: None, or the mixed-in type's __repr__ (C for int and str).
    return value_repr is None or type(value_repr) is not types.FunctionType or value_repr.__module__ == "enum"


def _instance_dict_descriptor(mro: tuple[type, ...]) -> Any:
    for klass in mro:
        own = _TYPE_DICT.__get__(klass)
        if "__dict__" in own:
            descriptor = own["__dict__"]
            if type(descriptor) is types.GetSetDescriptorType or type(descriptor) is types.MemberDescriptorType:
                return descriptor
            return None
    return None


def _refuse(value: Any, what: str) -> NoReturn:
    info = _info(type(value))
    reason = info.reason or f"{_qualname(type(value))} is not a plain value"
    raise UnsafeValueError(f"{what}: {reason}")


def _check(budget: _Budget, value: Any, what: str = "this operation") -> None:
    """Refuse ``value`` unless it and everything in it are plain (each item costs one unit).

    A container that passed is remembered for the rest of the evaluation: the expression cannot
    change it, so ``sorted(xs) == xs`` reads ``xs`` once.
    """
    checked = budget[_CHECKED]
    if checked is not None and checked.get(id(value)) is value:
        return
    cls = type(value)
    if cls is list or cls is tuple:
        _charge(budget, len(value) + 1)
        if set(map(id, map(type, value))) <= _PLAIN:
            if checked is None:
                checked = budget[_CHECKED] = {}
            checked[id(value)] = value
            return
    stack = [value]
    seen: dict[int, Any] = {}  # holds what it saw: an id stays unique while it is kept
    while stack:
        item = stack.pop()
        cls = type(item)
        if id(cls) in _PLAIN:
            continue
        if cls is slice:  # its bounds are whatever the host put in it: checked like any item
            stack.extend((item.start, item.stop, item.step))
            continue
        info = _info(cls)
        kind = info.kind
        if kind in (_SCALAR, _RECORD):
            continue
        if kind in (_SEQ, _MAP):
            if id(item) in seen:
                continue
            seen[id(item)] = item
            parts = (_DICT_KEYS(item), _DICT_VALUES(item)) if kind == _MAP else (item,)
            for part in parts:
                _charge(budget, len(part) + 1)
                if not set(map(id, map(type, part))) <= _PLAIN:
                    stack.extend(element for element in part if id(type(element)) not in _PLAIN)
        elif kind == _ENUM:
            stack.append(_stored(item, info, "_value_"))
        elif kind == _STAMP:
            zone = info.zone.__get__(item, cls)
            if zone is not None and not any(type(zone) is allowed for allowed in _zone_types()):
                raise UnsafeValueError(
                    f"{what}: a time zone of type {_qualname(type(zone))} runs its own code"
                    " (use datetime.timezone or zoneinfo.ZoneInfo)"
                )
        else:
            _refuse(item, what)
    if seen:
        if checked is None:
            checked = budget[_CHECKED] = {}
        checked[id(value)] = value


def _remember(budget: _Budget, value: _T) -> _T:
    """``value`` was built of checked items (``sorted(xs)``, ``xs + ys``): no need to check it again."""
    checked = budget[_CHECKED]
    if checked is None:
        checked = budget[_CHECKED] = {}
    checked[id(value)] = value
    return value


def _value(budget: _Budget, value: Any) -> Any:
    """``value`` once checked plain: an operand of a comparison, a key, an argument."""
    if id(type(value)) not in _PLAIN:
        _check(budget, value)
    return value


def _stored(obj: Any, info: _TypeInfo, name: str, default: Any = _MISSING) -> Any:
    """``name`` from the instance's own ``__dict__`` (read through the C descriptor, never getattr)."""
    descriptor = info.instance_dict
    if descriptor is not None:
        own = descriptor.__get__(obj, type(obj))
        if type(own) is dict:
            found = own.get(name, _MISSING)
            if found is not _MISSING:
                return found
    if default is not _MISSING:
        return default
    raise AttributeError(f"{_qualname(type(obj))!r} object has no stored attribute {name!r}")


def _zone_types() -> tuple[type, ...]:
    found: list[type] = []
    if (datetime := sys.modules.get("datetime")) is not None:
        found.append(datetime.timezone)
    if (zoneinfo := sys.modules.get("zoneinfo")) is not None:
        found.append(zoneinfo.ZoneInfo)
    return tuple(found)


# -- attributes ------------------------------------------------------------------------------------


def _mro_lookup(cls: type, name: str) -> tuple[Any, type | None]:
    """``name`` in the class's MRO, as Python finds it; ``_ODD`` when looking would run the host's code."""
    if _info(cls).odd:
        return _ODD, None
    for klass in _TYPE_MRO.__get__(cls):
        own = _TYPE_DICT.__get__(klass)
        if name in own:
            return own[name], klass
    return _MISSING, None


def _reader(cls: type, info: _TypeInfo, name: str) -> Callable[[Any], Any]:
    """How to read ``name`` from instances of ``cls`` without running their code (decided once)."""
    shown = f"{_qualname(cls)}.{name}"
    if info.odd:
        reason = info.reason

        def refuse(obj: Any) -> Any:
            raise UnsafeValueError(f"{shown}: {reason}")

        return refuse
    found, owner = _mro_lookup(cls, name)

    def stored_only(why: str) -> Callable[[Any], Any]:
        def read(obj: Any) -> Any:
            found = _stored(obj, info, name, _ABSENT)
            if found is _ABSENT:
                raise UnsafeValueError(f"{shown} {why}; invariants read stored attributes only")
            return found

        return read

    if found is _MISSING:
        dict_of = info.instance_dict
        if dict_of is None:
            return lambda obj: _stored(obj, info, name)

        def read_stored(obj: Any) -> Any:  # the common case, inlined: an instance attribute
            own = dict_of.__get__(obj, cls)
            if type(own) is dict:
                value = own.get(name, _ABSENT)
                if value is not _ABSENT:
                    return value
            return _stored(obj, info, name)  # raises AttributeError

        return read_stored
    getter = _mro_lookup(type(found), "__get__")[0]
    if getter is _MISSING:  # a plain class-level value, unless the instance has its own
        constant = found
        return lambda obj: _stored(obj, info, name, constant)
    descriptor: Any = found
    if type(descriptor) is types.MemberDescriptorType or type(descriptor) is _TUPLEGETTER:  # slots, tuple fields
        return lambda obj: descriptor.__get__(obj, cls)
    is_data = (
        _mro_lookup(type(descriptor), "__set__")[0] is not _MISSING
        or _mro_lookup(type(descriptor), "__delete__")[0] is not _MISSING
    )
    trusted_owner = owner is not None and _trusted().get(id(owner), (None,))[0] is owner
    # The data attributes of the standard value types: C getters (date.year, int.real), and stdlib
    # properties (Fraction.numerator, UUID.hex, Enum.value) on a class the checks accepted.
    if trusted_owner and is_data and (type(descriptor) is types.GetSetDescriptorType or info.kind in _INERT):
        return lambda obj: descriptor.__get__(obj, cls)
    if is_data:
        return stored_only("is computed by code (a property or descriptor)")
    return stored_only("is a method or computed attribute")


def _attr(budget: _Budget, obj: Any, name: str) -> Any:
    cls = type(obj)
    entry = _INFO.get(id(cls))
    info = entry[1] if entry is not None and entry[0] is cls else _info(cls)
    reader = info.readers.get(name)
    if reader is None:
        reader = info.readers[name] = _reader(cls, info, name)
    return reader(obj)


# -- operators -------------------------------------------------------------------------------------


def _length(value: Any) -> int | None:
    """The length of a sized plain value, else None."""
    cls = type(value)
    if cls is str or cls is list or cls is tuple or cls is bytes:
        return len(value)
    if id(cls) in _PLAIN:
        return None
    info = _info(cls)
    if info.kind == _SEQ or info.kind == _MAP or info.base in (str, bytes, bytearray, range):
        return len(value)
    return None


def _is_int(value: Any) -> bool:
    return issubclass(type(value), int)


def _int_bits(value: Any) -> int | None:
    """Bits of an integer (or the larger part of a Fraction), else None."""
    if _is_int(value):
        return int(value).bit_length()
    fractions = sys.modules.get("fractions")
    if fractions is not None and type(value) is fractions.Fraction:
        return max(int(value.numerator).bit_length(), int(value.denominator).bit_length())
    return None


def _add(budget: _Budget, x: Any, y: Any) -> Any:
    if id(type(x)) in _NUMBERS and id(type(y)) in _NUMBERS:
        return x + y
    _value(budget, x)
    _value(budget, y)
    lx, ly = _length(x), _length(y)
    if lx is not None and ly is not None:
        _build(budget, lx + ly, "a concatenation")
        joined = x + y
        return joined if id(type(joined)) in _PLAIN else _remember(budget, joined)
    return x + y


def _sub(budget: _Budget, x: Any, y: Any) -> Any:
    if id(type(x)) in _NUMBERS and id(type(y)) in _NUMBERS:
        return x - y
    return _sized_op(budget, operator.sub, x, y)


def _sized_op(budget: _Budget, op: Callable[[Any, Any], Any], x: Any, y: Any) -> Any:
    _value(budget, x)
    _value(budget, y)
    lx, ly = _length(x), _length(y)
    if lx is not None and ly is not None:
        _build(budget, lx + ly)
    return op(x, y)


def _mul(budget: _Budget, x: Any, y: Any) -> Any:
    tx, ty = type(x), type(y)
    if id(tx) in _NUMBERS and id(ty) in _NUMBERS:
        if tx is not float and ty is not float:
            _big_int(budget, x.bit_length() + y.bit_length(), "an integer")
        return x * y
    _value(budget, x)
    _value(budget, y)
    for sequence, times in ((x, y), (y, x)):
        size = _length(sequence)
        if size is not None and _is_int(times):
            _build(budget, size * max(int(times), 0), "a repetition")
            return x * y
    bx, by = _int_bits(x), _int_bits(y)
    if bx is not None and by is not None:
        _big_int(budget, bx + by, "a number")
    return x * y


def _big_int(budget: _Budget, bits: int, what: str) -> None:
    """About to build a number of ``bits`` bits: at most MAX_INT_BITS, and a unit per 64 bits past 128."""
    if bits > 128:
        if bits > MAX_INT_BITS:
            _over(f"{what} of about {bits} bits (at most {MAX_INT_BITS})")
        _charge(budget, bits >> 6)


def _pow(budget: _Budget, x: Any, y: Any) -> Any:
    _value(budget, x)
    _value(budget, y)
    if _is_int(y) and y > 0:
        bits = _int_bits(x)
        if bits is not None and bits > 1:
            _big_int(budget, (bits - 1) * int(y), "a power")
    return x**y


def _lshift(budget: _Budget, x: Any, y: Any) -> Any:
    _value(budget, x)
    _value(budget, y)
    if _is_int(x) and _is_int(y) and x and y > 0:
        _big_int(budget, int(x).bit_length() + int(y), "a shift")
    return x << y


def _mod(budget: _Budget, x: Any, y: Any) -> Any:
    if id(type(x)) in _NUMBERS and id(type(y)) in _NUMBERS:
        return x % y
    _value(budget, x)
    _value(budget, y)
    if issubclass(type(x), (str, bytes, bytearray)):
        raise UnsafeValueError("'%' formatting of text is not available in invariants")
    return x % y


def _plain_op(op: Callable[[Any, Any], Any]) -> Callable[[_Budget, Any, Any], Any]:
    def guarded(budget: _Budget, x: Any, y: Any) -> Any:
        if id(type(x)) in _NUMBERS and id(type(y)) in _NUMBERS:
            return op(x, y)
        return _sized_op(budget, op, x, y)

    return guarded


def _unary(op: Callable[[Any], Any]) -> Callable[[_Budget, Any], Any]:
    def guarded(budget: _Budget, x: Any) -> Any:
        return op(_value(budget, x))

    return guarded


_BINARY: Mapping[type[ast.operator], tuple[str, Callable[..., Any]]] = {
    ast.Add: ("_cw_add", _add),
    ast.Sub: ("_cw_sub", _sub),
    ast.Mult: ("_cw_mul", _mul),
    ast.Div: ("_cw_truediv", _plain_op(operator.truediv)),
    ast.FloorDiv: ("_cw_floordiv", _plain_op(operator.floordiv)),
    ast.Mod: ("_cw_mod", _mod),
    ast.Pow: ("_cw_pow", _pow),
    ast.LShift: ("_cw_lshift", _lshift),
    ast.RShift: ("_cw_rshift", _plain_op(operator.rshift)),
    ast.BitAnd: ("_cw_and", _plain_op(operator.and_)),
    ast.BitOr: ("_cw_or", _plain_op(operator.or_)),
    ast.BitXor: ("_cw_xor", _plain_op(operator.xor)),
}
_UNARY: Mapping[type[ast.unaryop], tuple[str, Callable[..., Any]]] = {
    ast.USub: ("_cw_neg", _unary(operator.neg)),
    ast.UAdd: ("_cw_pos", _unary(operator.pos)),
    ast.Invert: ("_cw_invert", _unary(operator.invert)),
}


def _truth(budget: _Budget | None, value: Any) -> Any:
    """``value``, once its truth is known to be computed without running the host's code."""
    if id(type(value)) in _TRUTHY or _info(type(value)).truth_ok:
        return value
    raise UnsafeValueError(f"the truth of {_qualname(type(value))} is computed by its own code")


def _range_length(value: range) -> int:
    start, stop, step = value.start, value.stop, value.step
    return max(0, (stop - start + step - (1 if step > 0 else -1)) // step)


def _contains(budget: _Budget, needle: Any, haystack: Any) -> bool:
    _value(budget, needle)
    cls = type(haystack)
    if cls is str or cls is bytes:
        return needle in haystack
    info = _info(cls)
    if info.base is range:
        if not _is_int(needle):  # range answers other types by looping over itself
            _charge(budget, _range_length(haystack))
        return needle in haystack
    _value(budget, haystack)
    return needle in haystack


def _in_constant(budget: _Budget, needle: Any, haystack: Any) -> bool:
    """``needle in ('a', 'b')``: the haystack is the rule's own constants."""
    return _value(budget, needle) in haystack


def _item(budget: _Budget, container: Any, index: Any) -> Any:
    _value(budget, index)
    cls = type(container)
    if cls is dict:
        return container[index]
    if cls is not list and cls is not tuple and cls is not str and cls is not bytes:
        info = _info(cls)
        if info.kind == _MAP:
            collections = sys.modules.get("collections")
            if info.exact and collections is not None and info.base is collections.Counter:
                return container[index]  # Counter's __missing__ answers 0 and stores nothing
            found = _DICT_GET(container, index, _MISSING)  # never __missing__: a defaultdict stays as it is
            if found is _MISSING:
                raise KeyError(index)
            return found
        if info.kind not in _INERT:
            _refuse(container, "subscript")
    if type(index) is slice and not issubclass(cls, range):
        size = _length(container)
        if size is not None:  # a slice copies: its size is known before it is made
            _build(budget, len(range(*index.indices(size))), "a slice")
    return container[index]


def _slice(budget: _Budget, lower: Any, upper: Any, step: Any) -> slice:
    return slice(_value(budget, lower), _value(budget, upper), _value(budget, step))


# -- loops -----------------------------------------------------------------------------------------


class _Stream:
    """A generator expression of the rule itself, handed to a function or looped over."""

    __slots__ = ("source",)

    def __init__(self, source: Iterator[Any]) -> None:
        self.source = source


def _iterable(value: Any, what: str) -> Iterable[Any]:
    """What a loop may read: a plain container, text or range — never an iterator it would consume."""
    cls = type(value)
    if cls is _Stream:
        source: Iterable[Any] = value.source
        return source
    if cls is list or cls is tuple or cls is dict or cls is str:
        return value  # type: ignore[no-any-return]
    if _info(cls).kind in _INERT:
        return value  # type: ignore[no-any-return]  # C or trusted iteration; TypeError if not iterable
    _refuse(value, what)


def _unpackable(value: Any, shape: tuple[Any, ...]) -> None:
    """A loop target ``a, (b, c)``: the item must be a plain sequence of that shape."""
    size = _length(value)
    if size is None:
        if _info(type(value)).kind in _INERT:
            raise TypeError(f"cannot unpack a {_qualname(type(value))}")
        _refuse(value, "unpacking")
    if size != len(shape):
        raise ValueError(f"cannot unpack {size} values into {len(shape)} names")
    for element, inner in zip(value, shape, strict=True):
        if inner is not None:
            _unpackable(element, inner)


def _iter(budget: _Budget, value: Any, shape: tuple[Any, ...] | None, cost: int = 1) -> Iterator[Any]:
    """Loop over ``value``; each item costs ``cost`` steps (the operations the loop's body evaluates)."""
    return _ticking(budget, _iterable(value, "a loop"), shape, cost)


def _ticking(budget: _Budget, source: Iterable[Any], shape: tuple[Any, ...] | None, cost: int) -> Iterator[Any]:
    for item in source:
        budget[_STEPS] -= cost
        if budget[_STEPS] < 0:
            _over(f"more than {MAX_STEPS} steps in loops")
        if shape is not None:
            _unpackable(item, shape)
        yield item


def _elements(budget: _Budget, value: Any, what: str) -> Any:
    """The items a function reads from ``value``: the value itself when plain, a stream collected."""
    if type(value) is _Stream:
        collected = []
        for item in value.source:
            collected.append(item)
            if len(collected) > MAX_SIZE:
                _over(f"{what}() over more than {MAX_SIZE} items")
        _charge(budget, len(collected))
        return collected
    iterable = _iterable(value, f"{what}()")
    size = _range_length(iterable) if type(iterable) is range else len(iterable)  # type: ignore[arg-type]
    if size > MAX_SIZE:
        _over(f"{what}() over {size} items (at most {MAX_SIZE})")
    _charge(budget, size)
    return iterable


# -- functions -------------------------------------------------------------------------------------


def _fn_abs(budget: _Budget, x: Any) -> Any:
    return abs(_value(budget, x))


def _fn_all(budget: _Budget, x: Any) -> bool:
    return all(_truth(budget, item) for item in _iter(budget, x, None))


def _fn_any(budget: _Budget, x: Any) -> bool:
    return any(_truth(budget, item) for item in _iter(budget, x, None))


def _fn_bool(budget: _Budget, x: Any = False) -> bool:
    return bool(_truth(budget, x))


def _fn_dict(budget: _Budget, x: Any = _MISSING, **keywords: Any) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    if x is not _MISSING:
        if type(x) is dict or _info(type(x)).kind == _MAP:
            _value(budget, x)
            _build(budget, len(x))
            result = dict(_DICT_ITEMS(x))
        else:
            pairs = list(_elements(budget, x, "dict"))
            for pair in pairs:
                _unpackable(pair, (None, None))
                _value(budget, next(iter(pair)))
            result = dict(pairs)
    _build(budget, len(result) + len(keywords))
    result.update(keywords)
    return result


def _fn_float(budget: _Budget, x: Any = 0.0) -> float:
    return float(_value(budget, x))


def _fn_int(budget: _Budget, x: Any = 0, base: Any = _MISSING) -> int:
    _value(budget, x)
    if issubclass(type(x), (str, bytes, bytearray)) and len(x) > _MAX_INT_TEXT:
        _over(f"int() of {len(x)} characters (at most {_MAX_INT_TEXT})")
    _integral_digits(x)
    return int(x) if base is _MISSING else int(x, _value(budget, base))


def _integral_digits(x: Any) -> None:
    """A Decimal's integer part can have a million digits in a short text (``1E+999999``)."""
    decimal = sys.modules.get("decimal")
    if decimal is not None and issubclass(type(x), decimal.Decimal) and decimal.Decimal.is_finite(x):
        digits = decimal.Decimal.adjusted(x) + 1
        if digits > _MAX_INT_TEXT:
            _over(f"an integer of {digits} digits from a Decimal (at most {_MAX_INT_TEXT})")


def _fn_isclose(budget: _Budget, a: Any, b: Any, *, rel_tol: Any = 1e-09, abs_tol: Any = 0.0) -> bool:
    values = [_value(budget, v) for v in (a, b, rel_tol, abs_tol)]
    return math.isclose(values[0], values[1], rel_tol=values[2], abs_tol=values[3])


def _fn_isinstance(budget: _Budget, x: Any, types_: type | tuple[type, ...]) -> bool:
    # On the type itself: isinstance() would also ask the object for its __class__.
    return issubclass(type(x), types_)


def _fn_len(budget: _Budget, x: Any) -> int:
    if type(x) is _Stream:
        raise TypeError("len() of a generator expression: use sum(1 for ...)")
    info = _info(type(x))
    if info.kind not in _INERT:
        _refuse(x, "len()")
    return len(x)


def _fn_list(budget: _Budget, x: Any = ()) -> list[Any]:
    return list(_elements(budget, x, "list"))


def _fn_tuple(budget: _Budget, x: Any = ()) -> tuple[Any, ...]:
    return tuple(_elements(budget, x, "tuple"))


def _fn_set(budget: _Budget, x: Any = ()) -> set[Any]:
    items = _elements(budget, x, "set")
    _value(budget, items)
    return _remember(budget, set(items))


def _extreme(which: Callable[..., Any], name: str) -> Callable[..., Any]:
    def extreme(budget: _Budget, *args: Any, default: Any = _MISSING) -> Any:
        if len(args) == 1:
            items = _elements(budget, args[0], name)
            _value(budget, items)
            return which(items) if default is _MISSING else which(items, default=default)
        if default is not _MISSING:
            raise TypeError(f"cannot specify a default for {name}() with multiple positional arguments")
        for arg in args:
            _value(budget, arg)
        return which(*args)

    return extreme


def _fn_range(budget: _Budget, *args: Any) -> range:
    return range(*[_value(budget, a) for a in args])


def _fn_round(budget: _Budget, x: Any, ndigits: Any = None) -> Any:
    _value(budget, x)
    if ndigits is None:
        _integral_digits(x)
        return round(x)
    _value(budget, ndigits)
    if _is_int(ndigits) and abs(ndigits) > _MAX_NDIGITS:
        _over(f"round() to {ndigits} digits (at most {_MAX_NDIGITS})")
    return round(x, ndigits)


def _fn_sorted(budget: _Budget, x: Any, *, reverse: Any = False) -> list[Any]:
    items = _elements(budget, x, "sorted")
    _value(budget, items)
    return _remember(budget, sorted(items, reverse=_value(budget, reverse)))


def _fn_str(budget: _Budget, x: Any = "") -> str:
    _value(budget, x)
    _text_size(x)
    text = str(x)
    _build(budget, len(text), "str()")
    return text


def _text_size(value: Any) -> None:
    """Refuse a ``str()`` whose text would be over MAX_SIZE, before it is made (the value is checked plain)."""
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls is str or cls is bytes:
            size += len(item) + 4
        elif _is_int(item):
            bits = int(item).bit_length()
            if bits > MAX_INT_BITS:
                _over(f"str() of a {bits}-bit integer (at most {MAX_INT_BITS})")
            size += bits // 3 + 2
        else:
            kind = _info(cls).kind if id(cls) not in _PLAIN else _SCALAR
            if kind == _SEQ:
                stack.extend(item)
            elif kind == _MAP:
                stack.extend(_DICT_KEYS(item))
                stack.extend(_DICT_VALUES(item))
            size += 30
        if size > MAX_SIZE:
            _over(f"str() of more than {MAX_SIZE} characters")


def _fn_sum(budget: _Budget, x: Any, start: Any = 0) -> Any:
    items = _elements(budget, x, "sum")
    _value(budget, start)
    if issubclass(type(start), (str, bytes, bytearray)):
        raise TypeError("sum() can't sum strings")
    if id(type(start)) in _NUMBERS and set(map(id, map(type, items))) <= _NUMBERS:
        return sum(items, start)
    _value(budget, items)
    total = start
    for item in items:  # each addition checked: sum of lists is quadratic
        total = _add(budget, total, item)
    return total


#: Functions an expression may call, by name: each runs the built-in of that name on checked values.
FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "abs": _fn_abs,
    "all": _fn_all,
    "any": _fn_any,
    "bool": _fn_bool,
    "dict": _fn_dict,
    "float": _fn_float,
    "int": _fn_int,
    "isclose": _fn_isclose,
    "isinstance": _fn_isinstance,
    "len": _fn_len,
    "list": _fn_list,
    "max": _extreme(max, "max"),
    "min": _extreme(min, "min"),
    "range": _fn_range,
    "round": _fn_round,
    "set": _fn_set,
    "sorted": _fn_sorted,
    "str": _fn_str,
    "sum": _fn_sum,
    "tuple": _fn_tuple,
}

#: Methods an expression may call, by name, and the built-in types they are called on. Elsewhere
#: (any other type, a host's own class) the call is refused; on a subclass the built-in runs.
METHODS: Mapping[str, tuple[type, ...]] = {
    "count": (str, bytes, list, tuple),
    "endswith": (str, bytes),
    "get": (dict,),
    "index": (str, bytes, list, tuple),
    "isdigit": (str, bytes),
    "items": (dict,),
    "keys": (dict,),
    "lower": (str, bytes),
    "startswith": (str, bytes),
    "strip": (str, bytes),
    "upper": (str, bytes),
    "values": (dict,),
}
_COMPARES_ITEMS = frozenset({(list, "count"), (tuple, "count"), (list, "index"), (tuple, "index")})
_COPIES = frozenset({"lower", "upper", "strip"})


# By the id of the built-in type: each allowed method's own implementation, and whether it compares items.
_METHOD_TABLE: Mapping[int, Mapping[str, tuple[Callable[..., Any], bool]]] = {
    id(base): {
        name: (getattr(base, name), (base, name) in _COMPARES_ITEMS) for name, bases in METHODS.items() if base in bases
    }
    for base in (str, bytes, list, tuple, dict)
}


_STR_METHODS = _METHOD_TABLE[id(str)]


def _method(budget: _Budget, obj: Any, name: str) -> tuple[Any, str, Callable[..., Any], bool]:
    """Resolve ``obj.name`` to the built-in type's own method (before the arguments, as Python does)."""
    cls = type(obj)
    table = _METHOD_TABLE.get(id(cls))
    if table is None or name not in table:
        for base in METHODS[name]:
            if issubclass(cls, base):  # a subclass: the built-in's own method runs, not an override
                break
        else:
            allowed = ", ".join(b.__name__ for b in METHODS[name])
            message = f"{name}() is not available on {_qualname(cls)} in an invariant (only on {allowed})"
            raise AttributeError(message) if _info(cls).kind in _INERT else UnsafeValueError(message)
        if _info(cls).kind not in _INERT:
            _refuse(obj, f"{name}()")
        table = _METHOD_TABLE[id(base)]
    method, compares_items = table[name]
    return obj, name, method, compares_items


def _call_method_now(budget: _Budget, obj: Any, name: str, *args: Any) -> Any:
    """``obj.name(constants)``: resolve and call at once (the common ``email.endswith('@x.com')``)."""
    if type(obj) is str:
        entry = _STR_METHODS.get(name)
        if entry is not None:  # str's own method, on the rule's own constants
            if name in _COPIES:
                _build(budget, len(obj), f"{name}()")
            return entry[0](obj, *args)
    return _call_method(budget, _method(budget, obj, name), *args)


def _call_method(budget: _Budget, resolved: tuple[Any, str, Callable[..., Any], bool], *args: Any) -> Any:
    obj, name, method, compares_items = resolved
    for arg in args:
        if id(type(arg)) not in _PLAIN:
            _check(budget, arg)
    if compares_items:
        _value(budget, obj)
    elif name in _COPIES:
        _build(budget, len(obj), f"{name}()")
    return method(obj, *args)


# -- compilation -----------------------------------------------------------------------------------

#: Attribute names without a leading underscore that still lead to frames, code or globals.
_DENIED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "ag_code",
        "ag_frame",
        "cr_code",
        "cr_frame",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
        "func_globals",
        "gi_code",
        "gi_frame",
        "gi_yieldfrom",
        "mro",
        "tb_frame",
        "tb_next",
    }
)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_BUDGET = "_cw_b"


def _unbound(error: KeyError) -> NoReturn:
    raise NameError(f"name {error.args[0]!r} is not bound in this invariant") from None


_GLOBALS: dict[str, Any] = {
    "__builtins__": {},
    "_cw_attr": _attr,
    "_cw_item": _item,
    "_cw_slice": _slice,
    "_cw_value": _value,
    "_cw_truth": _truth,
    "_cw_contains": _contains,
    "_cw_in_constant": _in_constant,
    "_cw_iter": _iter,
    "_cw_stream": _Stream,
    "_cw_method": _method,
    "_cw_call_method": _call_method,
    "_cw_call_method_now": _call_method_now,
    "_cw_unbound": _unbound,
    "_cw_KeyError": KeyError,
    **{name: guard for name, guard in _BINARY.values()},
    **{name: guard for name, guard in _UNARY.values()},
    **{f"_cw_fn_{name}": function for name, function in FUNCTIONS.items()},
    **{f"_cw_type_{name}": cls for name, cls in _TYPE_NAMES.items()},
}


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


class _Compiler:
    """Checks a parsed expression against the allow-list and rewrites it into guarded code."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.free: set[str] = set()

    def refuse(self, why: str) -> NoReturn:
        raise ExpressionError(f"invariant {_shown(self.text)}: {why}")

    def guard(self, name: str, *args: ast.expr, keywords: list[ast.keyword] | None = None) -> ast.Call:
        return ast.Call(
            func=ast.Name(name, ast.Load()),
            args=[ast.Name(_BUDGET, ast.Load()), *args],
            keywords=keywords or [],
        )

    def expr(self, node: ast.expr, bound: frozenset[str], *, stream_ok: bool = False) -> ast.expr:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                self.refuse(f"name {node.id!r} is not allowed (starts with _)")
            if not isinstance(node.ctx, ast.Load):
                self.refuse("assignment is not allowed")
            if node.id not in bound:
                self.free.add(node.id)
            return ast.Name(node.id, ast.Load())
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr in _DENIED_ATTRIBUTES:
                self.refuse(f"attribute {node.attr!r} is not allowed")
            return self.guard("_cw_attr", self.expr(node.value, bound), ast.Constant(node.attr))
        if isinstance(node, ast.Subscript):
            return self.guard("_cw_item", self.expr(node.value, bound), self.expr(node.slice, bound))
        if isinstance(node, ast.Slice):
            parts = [
                ast.Constant(None) if p is None else self.expr(p, bound) for p in (node.lower, node.upper, node.step)
            ]
            return self.guard("_cw_slice", *parts)
        if isinstance(node, ast.BinOp):
            entry = _BINARY.get(type(node.op))
            if entry is None:
                self.refuse(f"operator {type(node.op).__name__} is not allowed")
            return self.guard(entry[0], self.expr(node.left, bound), self.expr(node.right, bound))
        if isinstance(node, ast.UnaryOp):
            operand = self.expr(node.operand, bound)
            if isinstance(node.op, ast.Not):
                return ast.UnaryOp(ast.Not(), self.guard("_cw_truth", operand))
            return self.guard(_UNARY[type(node.op)][0], operand)
        if isinstance(node, ast.BoolOp):
            values = [self.expr(v, bound) for v in node.values]
            tested: list[ast.expr] = [self.guard("_cw_truth", v) for v in values[:-1]]
            return ast.BoolOp(node.op, [*tested, values[-1]])
        if isinstance(node, ast.Compare):
            return self.compare(node, bound)
        if isinstance(node, ast.IfExp):
            return ast.IfExp(
                self.guard("_cw_truth", self.expr(node.test, bound)),
                self.expr(node.body, bound),
                self.expr(node.orelse, bound),
            )
        if isinstance(node, ast.Call):
            return self.call(node, bound)
        if isinstance(node, (ast.Tuple, ast.List)):
            if not isinstance(node.ctx, ast.Load):
                self.refuse("assignment is not allowed")
            elements = [self.element(e, bound) for e in node.elts]
            return ast.Tuple(elements, ast.Load()) if isinstance(node, ast.Tuple) else ast.List(elements, ast.Load())
        if isinstance(node, ast.Set):
            return ast.Set([self.guard("_cw_value", self.element(e, bound)) for e in node.elts])
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                self.refuse("'**' in a dict display is not allowed")
            keys = [self.guard("_cw_value", self.expr(k, bound)) for k in node.keys if k is not None]
            return ast.Dict(keys, [self.expr(v, bound) for v in node.values])  # type: ignore[arg-type]
        if isinstance(node, _COMPREHENSIONS):
            if isinstance(node, ast.GeneratorExp) and not stream_ok:
                self.refuse("a generator expression may only be passed to a function or looped over")
            return self.comprehension(node, bound)
        self.refuse(f"{type(node).__name__} is not allowed")

    def element(self, node: ast.expr, bound: frozenset[str]) -> ast.expr:
        if isinstance(node, ast.Starred):
            self.refuse("'*' unpacking is not allowed")
        return self.expr(node, bound)

    def constant(self, node: ast.Constant) -> ast.expr:
        value = node.value
        if value is not None and not isinstance(value, (bool, int, float, complex, str, bytes)) and value is not ...:
            self.refuse(f"constant of type {type(value).__name__} is not allowed")
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            self.refuse(f"integer constant over {MAX_INT_BITS} bits")
        return ast.Constant(value)

    def compare(self, node: ast.Compare, bound: frozenset[str]) -> ast.expr:
        ops = node.ops
        if any(isinstance(op, (ast.In, ast.NotIn)) for op in ops):
            if len(ops) != 1:
                self.refuse("'in' cannot be chained with other comparisons")
            haystack = node.comparators[0]
            guard = "_cw_in_constant" if _constant(haystack) else "_cw_contains"
            test = self.guard(guard, self.expr(node.left, bound), self.expr(haystack, bound))
            return ast.UnaryOp(ast.Not(), test) if isinstance(ops[0], ast.NotIn) else test
        operands = [node.left, *node.comparators]
        for op, left, right in zip(ops, operands[:-1], operands[1:], strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)) and (_literal(left) or _literal(right)):
                self.refuse("'is' with a literal compares identity, not value: use '=='")
        emitted: list[ast.expr] = []
        for index, operand in enumerate(operands):
            value = self.expr(operand, bound)
            neighbours = ops[max(index - 1, 0) : index + 1]
            if not _constant(operand) and not all(isinstance(op, (ast.Is, ast.IsNot)) for op in neighbours):
                value = self.guard("_cw_value", value)  # identity needs nothing; everything else is checked
            emitted.append(value)
        return ast.Compare(emitted[0], list(ops), emitted[1:])

    def call(self, node: ast.Call, bound: frozenset[str]) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS:
            name = func.id
            allowed = _KEYWORDS.get(name, frozenset())
            keywords: list[ast.keyword] = []
            for keyword in node.keywords:
                if keyword.arg is None:
                    self.refuse("'**' arguments are not allowed")
                if name != "dict" and keyword.arg not in allowed:
                    accepted = f"; it accepts {', '.join(sorted(allowed))}" if allowed else ""
                    self.refuse(f"{name}() does not accept {keyword.arg}= in an invariant{accepted}")
                keywords.append(ast.keyword(keyword.arg, self.expr(keyword.value, bound)))
            if name == "isinstance":
                if len(node.args) != 2 or keywords:
                    self.refuse("isinstance() takes a value and a type name (or a tuple of them)")
                return self.guard("_cw_fn_isinstance", self.expr(node.args[0], bound), self.type_names(node.args[1]))
            args = [self.argument(a, bound) for a in node.args]
            return self.guard(f"_cw_fn_{name}", *args, keywords=keywords)
        if isinstance(func, ast.Attribute) and func.attr in METHODS:
            if node.keywords:
                self.refuse(f"{func.attr}() takes no keyword arguments in an invariant")
            receiver = self.expr(func.value, bound)
            args = [self.expr(self.positional(a), bound) for a in node.args]
            if all(_constant(a) for a in node.args):  # nothing to evaluate between resolving and calling
                return self.guard("_cw_call_method_now", receiver, ast.Constant(func.attr), *args)
            resolved = self.guard("_cw_method", receiver, ast.Constant(func.attr))
            return self.guard("_cw_call_method", resolved, *args)
        shown = ast.unparse(func)
        self.refuse(
            f"calling {shown} is not allowed "
            f"(allowed: {', '.join(sorted(FUNCTIONS))}; methods {', '.join(sorted(METHODS))})"
        )

    def positional(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Starred):
            self.refuse("'*' arguments are not allowed")
        return node

    def argument(self, node: ast.expr, bound: frozenset[str]) -> ast.expr:
        return self.expr(self.positional(node), bound, stream_ok=True)

    def type_names(self, node: ast.expr) -> ast.expr:
        names = node.elts if isinstance(node, ast.Tuple) else [node]
        emitted: list[ast.expr] = []
        for name in names:
            if not isinstance(name, ast.Name) or name.id not in _TYPE_NAMES:
                self.refuse(f"isinstance() may name only {', '.join(sorted(_TYPE_NAMES))}")
            emitted.append(ast.Name(f"_cw_type_{name.id}", ast.Load()))
        return ast.Tuple(emitted, ast.Load()) if isinstance(node, ast.Tuple) else emitted[0]

    def target(self, node: ast.expr) -> tuple[Any, set[str]]:
        """A loop target's shape (None for a name, a tuple for unpacking) and the names it binds."""
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                self.refuse(f"name {node.id!r} is not allowed (starts with _)")
            if node.id in FUNCTIONS:
                self.refuse(f"a loop variable may not be named {node.id} (a function of invariants)")
            return None, {node.id}
        if isinstance(node, (ast.Tuple, ast.List)):
            shapes, names = [], set()
            for element in node.elts:
                shape, inner = self.target(element)
                shapes.append(shape)
                names |= inner
            return tuple(shapes), names
        self.refuse("a comprehension target must be a name or a tuple of names")

    def comprehension(self, node: ast.expr, bound: frozenset[str]) -> ast.expr:
        assert isinstance(node, _COMPREHENSIONS)
        generators: list[ast.comprehension] = []
        scope = bound
        for index, generator in enumerate(node.generators):
            if generator.is_async:
                self.refuse("async comprehensions are not allowed")
            # The first iterable is evaluated outside the comprehension, the others inside.
            iterable = self.expr(generator.iter, bound if index == 0 else scope, stream_ok=True)
            shape, names = self.target(generator.target)
            scope = scope | names
            # What one item of this loop evaluates: its conditions, then the next loop's source or
            # the element (the next loop's items pay for themselves).
            body: list[ast.AST] = [*generator.ifs]
            if index + 1 < len(node.generators):
                body.append(node.generators[index + 1].iter)
            elif isinstance(node, ast.DictComp):
                body += [node.key, node.value]
            else:
                body.append(node.elt)
            cost = 1 + sum(isinstance(n, ast.expr) for part in body for n in ast.walk(part))
            generators.append(
                ast.comprehension(
                    target=self.store(generator.target),
                    iter=self.guard("_cw_iter", iterable, ast.Constant(shape), ast.Constant(cost)),
                    ifs=[self.guard("_cw_truth", self.expr(test, scope)) for test in generator.ifs],
                    is_async=0,
                )
            )
        if isinstance(node, ast.DictComp):
            key = self.guard("_cw_value", self.expr(node.key, scope))
            return ast.DictComp(key, self.expr(node.value, scope), generators)
        element = self.expr(node.elt, scope)
        if isinstance(node, ast.ListComp):
            return ast.ListComp(element, generators)
        if isinstance(node, ast.SetComp):
            return ast.SetComp(self.guard("_cw_value", element), generators)
        return ast.Call(ast.Name("_cw_stream", ast.Load()), [ast.GeneratorExp(element, generators)], [])

    def store(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Name):
            return ast.Name(node.id, ast.Store())
        assert isinstance(node, (ast.Tuple, ast.List))
        return ast.Tuple([self.store(e) for e in node.elts], ast.Store())


def _constant(node: ast.expr) -> bool:
    """A constant, or a tuple/list/set of them: plain by construction, nothing to check."""
    if isinstance(node, ast.Constant):
        return True
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and all(_constant(e) for e in node.elts)


def _literal(node: ast.expr) -> bool:
    """A display, or an expression of constants other than None/True/False/...: its identity means
    nothing (Python warns about ``x is 1`` and ``x is -1``)."""
    if isinstance(node, ast.Constant):
        return not any(node.value is singleton for singleton in (None, True, False, ...))
    if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict, *_COMPREHENSIONS)):
        return True
    return not any(isinstance(n, ast.Name) for n in ast.walk(node))


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


@dataclass(frozen=True)
class SafeExpression:
    """A checked expression, ready to evaluate many times.

    Attributes:
        text: the source text.
        names: the free names it reads (to check against a function's parameters at start-up).
    """

    text: str
    names: frozenset[str]
    _function: Callable[[_Budget, Mapping[str, Any]], Any] = field(repr=False, compare=False)

    def evaluate(self, variables: Mapping[str, Any], *, max_steps: int = MAX_STEPS) -> Any:
        """Evaluate with ``variables`` bound.

        Raises:
            ExpressionLimitError: the step, item, size or integer budget would be exceeded.
            UnsafeValueError: an operation on a value that is not plain (it would run its own code).
            NameError: a name is not bound.
            Exception: whatever the allowed operations raise on these values (``TypeError``, ...).
        """
        return self._function([max_steps, MAX_ITEMS, None], variables)

    def holds(self, variables: Mapping[str, Any]) -> bool:
        """True when the expression's value is truthy (its truth checked like any other)."""
        return bool(_truth(None, self._function([MAX_STEPS, MAX_ITEMS, None], variables)))


def compile_expression(text: str) -> SafeExpression:
    """Parse and check ``text``.

    Raises:
        ExpressionError: a one-line message for anything that cannot become a rule: a syntax error,
            a construct outside the allow-list (imports, lambdas, dunder or private attributes,
            calls to anything not in FUNCTIONS/METHODS, ``key=``, ...), an expression too long or
            too deeply nested. Never anything else.
    """
    try:
        return _compile(text)
    except ExpressionError:
        raise
    except Exception as exc:  # RecursionError, MemoryError, ValueError (NUL bytes), ...: refused, not raised
        shown = _shown(text) if isinstance(text, str) else repr(type(text).__name__)
        raise ExpressionError(f"invariant {shown} cannot be compiled ({type(exc).__name__})") from None


def _compile(text: str) -> SafeExpression:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an invariant expression must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise ExpressionError(f"invariant expression is too long ({len(text)} characters; at most {MAX_TEXT})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invariant {_shown(text)} is not a valid expression: {exc.msg}") from None
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(f"invariant {_shown(text)} is nested too deeply (at most {MAX_DEPTH} levels)")
    compiler = _Compiler(text)
    body = compiler.expr(tree.body, frozenset())
    params = tuple(sorted(compiler.free))
    # The rule reads its names from the variables itself: one call per evaluation, no argument list.
    reads = "".join(f"        {name} = _cw_v[{name!r}]\n" for name in params) or "        pass\n"
    template = ast.parse(
        f"def _cw_rule({_BUDGET}, _cw_v):\n"
        f"    try:\n{reads}"
        f"    except _cw_KeyError as _cw_e:\n"
        f"        _cw_unbound(_cw_e)\n"
        f"    return None"
    )
    function_def = template.body[0]
    assert isinstance(function_def, ast.FunctionDef)
    function_def.body[-1] = ast.Return(body)
    ast.fix_missing_locations(template)
    code = compile(template, "<invariant>", "exec")
    namespace = dict(_GLOBALS)
    exec(code, namespace)  # noqa: S102 - our own code: every operation of the rule is a guard call
    return SafeExpression(text=text, names=frozenset(params), _function=namespace["_cw_rule"])
