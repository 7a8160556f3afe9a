"""Plain data (a parsed YAML document) checked into frozen dataclasses, by their type hints.

In: a dataclass type (``model.Policy``, ``model.Rule``...) and plain data: dicts, lists, str,
bool, numbers, dates. Out: an instance (``build``), or ``Invalid`` holding *every* problem as a
``(path, message)`` pair, the path being where in the data it is (``("rules", 2, "match",
"hosts")``); the loader turns each path into a file line. ``json_schema`` describes the same
dataclasses as a JSON Schema (draft 2020-12), and ``dump`` turns an instance back into data.

This is the policy's validation without pydantic, whose import alone costs more than
``netcheck policy validate`` may take to start (bench/startup.py). It reads the hints the
models use: ``str``, ``bool``, ``int``, ``float``, ``datetime.date``, ``Literal[...]``,
``list[X]``, ``X | None`` and nested dataclasses. A field's ``metadata`` may add:

- ``description``: for the JSON schema;
- ``gt``: the value must be greater (``exclusiveMinimum``);
- ``before``: applied to the raw value before its type is checked;
- ``each``: applied to each item of a list whose items passed their type check; ``check``: to
  the field's value once it passed. Both return the value to keep (possibly normalised) or raise
  ``ValueError``, whose text is the problem, at the item's or the field's path.

After a dataclass's fields all pass, its ``_consistent()`` method, if it has one, may raise
``ValueError`` about the fields together (reported at the dataclass's own path). Unknown keys and
missing required ones are problems too. Type messages are pydantic's, and conversions follow
pydantic's lax mode where a YAML file needs them (a quoted number, ``"yes"`` for a boolean, a
``YYYY-MM-DD`` text for a date); bytes, sets, booleans-as-numbers and numbers that are not
finite (``.nan``, ``.inf``, ``1e400``) are refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]
Reader = Callable[[Any, Loc, list[Problem]], Any]

_BAD: Any = object()  # what a reader returns after it appended a problem
_TRUE = frozenset(("1", "on", "t", "true", "y", "yes"))
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))


class Invalid(ValueError):
    """Every problem found in the data, in the order of the dataclass fields."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{_dotted(loc)}: {message}" for loc, message in problems))
        self.problems = problems


def build(cls: type[T], data: object, loc: Loc = ()) -> T:
    """``data`` as a ``cls``, or ``Invalid`` with every problem (paths start at ``loc``)."""
    problems: list[Problem] = []
    built = _reader(typing.cast(Any, cls))(data, loc, problems)
    if problems:
        raise Invalid(problems)
    return typing.cast(T, built)


def dump(obj: Any, *, exclude_defaults: bool = False) -> Any:
    """A dataclass as JSON data: dicts in field order, dates as ``YYYY-MM-DD``;
    ``exclude_defaults`` leaves out every field equal to its default (or default factory's)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if exclude_defaults and _is_default(f, value):
                continue
            out[f.name] = dump(value, exclude_defaults=exclude_defaults)
        return out
    if isinstance(obj, list | tuple):
        return [dump(item, exclude_defaults=exclude_defaults) for item in obj]
    if isinstance(obj, datetime.date):
        return obj.isoformat()
    return obj


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of ``cls`` (nested dataclasses under ``$defs``), in pydantic's form."""
    defs: dict[str, Any] = {}
    schema = _object_schema(cls, defs)
    if defs:
        schema["$defs"] = defs
    return schema


# --- readers, made once per type ----------------------------------------------------------------


@functools.cache
def _reader(hint: Any) -> Reader:
    if dataclasses.is_dataclass(hint):
        return _dataclass_reader(typing.cast(type, hint))
    origin, args = get_origin(hint), get_args(hint)
    if origin in (types.UnionType, typing.Union) and type(None) in args:
        others = [a for a in args if a is not type(None)]
        if len(others) != 1:
            raise TypeError(f"no reader for {hint!r}: one type or None")
        inner = _reader(others[0])
        return lambda value, loc, out: None if value is None else inner(value, loc, out)
    if origin is list:
        return _list_reader(_reader(args[0]))
    if origin is Literal:
        return _literal_reader(args)
    simple = _SIMPLE.get(hint)
    if simple is None:
        raise TypeError(f"no reader for {hint!r}")
    return simple


def _list_reader(item: Reader) -> Reader:
    def read(value: Any, loc: Loc, out: list[Problem]) -> Any:
        if not isinstance(value, list | tuple):
            out.append((loc, "Input should be a valid list"))
            return _BAD
        items = [item(v, (*loc, i), out) for i, v in enumerate(value)]
        return _BAD if any(v is _BAD for v in items) else items

    return read


def _literal_reader(allowed: tuple[Any, ...]) -> Reader:
    shown = [repr(a) for a in allowed]
    message = "Input should be " + (
        f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0]
    )

    def read(value: Any, loc: Loc, out: list[Problem]) -> Any:
        if isinstance(value, str) and value in allowed:
            return value
        out.append((loc, message))
        return _BAD

    return read


def _read_str(value: Any, loc: Loc, out: list[Problem]) -> Any:
    if isinstance(value, str):
        return value
    out.append((loc, "Input should be a valid string"))
    return _BAD


def _read_bool(value: Any, loc: Loc, out: list[Problem]) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    out.append((loc, "Input should be a valid boolean" + _unable(value, "interpret input")))
    return _BAD


def _read_float(value: Any, loc: Loc, out: list[Problem]) -> Any:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if abs(value) < 1e308 else math.inf
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if number is not None and math.isfinite(number):
        return number
    if number is not None:  # .nan, .inf, 1e400: no measurement compares with them
        out.append((loc, "Input should be a finite number"))
        return _BAD
    out.append((loc, "Input should be a valid number" + _unable(value, "parse string as a number")))
    return _BAD


def _read_int(value: Any, loc: Loc, out: list[Problem]) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    out.append((loc, "Input should be a valid integer"))
    return _BAD


def _read_date(value: Any, loc: Loc, out: list[Problem]) -> Any:
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0) and value.utcoffset() in (None, datetime.timedelta(0)):
            return value.date()
        out.append((loc, "Datetimes provided to dates should have zero time - e.g. be exact dates"))
        return _BAD
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError as exc:
            out.append((loc, f"Input should be a valid date: {exc}"))
            return _BAD
    shown = " in the format YYYY-MM-DD" if isinstance(value, str) else ""
    out.append((loc, f"Input should be a valid date{shown}"))
    return _BAD


def _unable(value: Any, what: str) -> str:
    return f", unable to {what}" if isinstance(value, str) else ""


_SIMPLE: dict[Any, Reader] = {
    str: _read_str,
    bool: _read_bool,
    float: _read_float,
    int: _read_int,
    datetime.date: _read_date,
}


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    read: Reader
    required: bool
    before: Callable[[Any], Any] | None
    gt: float | None
    each: Callable[[Any], Any] | None
    check: Callable[[Any], Any] | None


def _dataclass_reader(cls: type) -> Reader:
    hints = get_type_hints(cls)
    plan = [
        _Field(
            name=f.name,
            read=_reader(hints[f.name]),
            required=f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            before=f.metadata.get("before"),
            gt=f.metadata.get("gt"),
            each=f.metadata.get("each"),
            check=f.metadata.get("check"),
        )
        for f in dataclasses.fields(cls)
    ]
    names = frozenset(f.name for f in plan)
    not_a_mapping = f"Input should be a valid dictionary or instance of {cls.__name__}"

    def read(data: Any, loc: Loc, out: list[Problem]) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            out.append((loc, not_a_mapping))
            return _BAD
        before = len(out)
        values: dict[str, Any] = {}
        for f in plan:
            if f.name in data:
                value = _field_value(f, data[f.name], (*loc, f.name), out)
                if value is not _BAD:
                    values[f.name] = value
            elif f.required:
                out.append(((*loc, f.name), f"missing {f.name!r}"))
        for key in data:
            if key not in names:
                out.append(((*loc, key), f"unknown key {key!r}"))
        if len(out) > before:
            return _BAD
        made = cls(**values)
        consistent = getattr(made, "_consistent", None)
        if consistent is not None:
            try:
                consistent()
            except ValueError as exc:
                out.append((loc, str(exc)))
                return _BAD
        return made

    return read


def _field_value(f: _Field, raw: Any, loc: Loc, out: list[Problem]) -> Any:
    value = f.read(f.before(raw) if f.before else raw, loc, out)
    if value is _BAD or value is None:
        return value
    if f.gt is not None and not value > f.gt:
        out.append((loc, f"Input should be greater than {f.gt:g}"))
        return _BAD
    if f.each is not None:
        kept = []
        for i, item in enumerate(value):
            try:
                kept.append(f.each(item))
            except ValueError as exc:
                out.append(((*loc, i), str(exc)))
        if len(kept) < len(value):
            return _BAD
        value = kept
    if f.check is not None:
        try:
            value = f.check(value)
        except ValueError as exc:
            out.append((loc, str(exc)))
            return _BAD
    return value


def _is_default(f: dataclasses.Field[Any], value: Any) -> bool:
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value == f.default_factory())
    return False


def _dotted(loc: Loc) -> str:
    return ".".join(str(part) for part in loc) or "value"


# --- the JSON schema ----------------------------------------------------------------------------


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        prop = _type_schema(hints[f.name], defs, f.metadata.get("gt"))
        if not _is_reference(prop):  # pydantic leaves the title to the referenced definition
            prop["title"] = f.name.title().replace("_", " ")
        if "description" in f.metadata:
            prop["description"] = f.metadata["description"]
        if f.default is not dataclasses.MISSING:
            prop["default"] = dump(f.default)
        elif f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        properties[f.name] = prop
    schema: dict[str, Any] = {
        "additionalProperties": False,
        "properties": properties,
        "title": cls.__name__,
        "type": "object",
    }
    if required:
        schema["required"] = required
    doc = cls.__doc__
    if doc and not doc.startswith(f"{cls.__name__}("):  # not the signature dataclass writes
        schema["description"] = " ".join(doc.split())
    return schema


def _type_schema(hint: Any, defs: dict[str, Any], gt: float | None = None) -> dict[str, Any]:
    if dataclasses.is_dataclass(hint):
        name = typing.cast(type, hint).__name__
        if name not in defs:
            defs[name] = {}  # a placeholder while it is made: a type that holds itself
            defs[name] = _object_schema(typing.cast(type, hint), defs)
        return {"$ref": f"#/$defs/{name}"}
    origin, args = get_origin(hint), get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return {"anyOf": [_type_schema(a, defs, gt) for a in args]}
    if origin is list:
        return {"items": _type_schema(args[0], defs), "type": "array"}
    if origin is Literal:
        return {"enum": list(args), "type": "string"}
    if hint is type(None):
        return {"type": "null"}
    if hint is datetime.date:
        return {"format": "date", "type": "string"}
    kind = {str: "string", bool: "boolean", float: "number", int: "integer"}[hint]
    return {"type": kind} if gt is None else {"exclusiveMinimum": gt, "type": kind}


def _is_reference(schema: dict[str, Any]) -> bool:
    return "$ref" in schema or any("$ref" in branch for branch in schema.get("anyOf", ()))
