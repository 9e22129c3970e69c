"""Payload filters as users write them, into the store's `Where`.

A filter maps a payload key to a value (equals), a list (equals any), or a dict of
operators, the same in Python, JSON bodies and the CLI's JSON form:

    {"domain": "finance", "year": {"gte": 2020, "lt": 2025}, "status": {"ne": "draft"},
     "page": {"gte": 40, "lte": 50}, "ingested_at": {"gte": "2026-12-01"},
     "reviewed_by": {"exists": True}}

Operators: `eq`/`in` (a value or a list), `ne`/`not_in` (none of them), `gt`, `gte`, `lt`,
`lte` (a number, or an ISO 8601 date or date-time; one kind per key) and `exists` (the key
holds a value: True, or is missing, null or an empty list: False). Conditions are ANDed.

The CLI's short form (`parse_expression`): `year>=2020`, `status!=draft`, `page<=50`,
`title=Lease` (a key given twice matches any of its values), `reviewed_by:exists`,
`reviewed_by:missing`, or the JSON form above.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import ConfigDict
from typing_extensions import TypedDict

from adaptrag.rag.errors import ConfigError
from adaptrag.rag.stores.base import Bound, Range, Scalar, Where

FilterOps = TypedDict(
    "FilterOps",
    {
        "eq": "Scalar | Sequence[Scalar]",
        "in": "Sequence[Scalar]",
        "ne": "Scalar | Sequence[Scalar]",
        "not_in": "Sequence[Scalar]",
        "gt": "float | str",
        "gte": "float | str",
        "lt": "float | str",
        "lte": "float | str",
        "exists": bool,
    },
    total=False,
)
"""Operators on one payload key (see the module's text)."""
FilterOps.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


Filters = Mapping[str, Scalar | Sequence[Scalar] | FilterOps]
"""Payload conditions: key = value, key = any of a list, or key with operators."""

OPERATORS = ("eq", "in", "ne", "not_in", "gt", "gte", "lt", "lte", "exists")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_EXPRESSION = re.compile(r"^\s*(?P<key>[^\s<>=!:]+)\s*(?P<op>>=|<=|!=|==|=|>|<)(?P<value>.*)$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def where_of(  # noqa: C901 - one branch per operator
    filters: Filters | None, *, domain: str | None = None, doc_id: str | None = None
) -> Where | None:
    """The store filter for `filters`, a domain and a document (None: no condition)."""
    equals: dict[str, Scalar | Sequence[Scalar]] = {}
    not_equals: dict[str, Scalar | Sequence[Scalar]] = {}
    ranges: dict[str, Range] = {}
    exists: dict[str, bool] = {}
    for key, condition in (filters or {}).items():
        _check_key(key)
        if not isinstance(condition, Mapping):
            equals[key] = _values(key, condition)
            continue
        ops: Mapping[str, Any] = condition
        unknown = sorted(set(ops) - set(OPERATORS))
        if unknown or not ops:
            raise ConfigError(
                f"filter on {key!r} has unknown operator(s) {unknown or '(none)'}; use "
                f"{', '.join(OPERATORS)}"
            )
        for op in ("eq", "in"):
            if op in ops:
                equals[key] = _values(key, ops[op])
        for op in ("ne", "not_in"):
            if op in ops:
                not_equals[key] = _values(key, ops[op])
        if bounds := {op: _bound(key, ops[op]) for op in ("gt", "gte", "lt", "lte") if op in ops}:
            if len({isinstance(v, str) for v in bounds.values()}) > 1:
                raise ConfigError(f"filter on {key!r} mixes dates and numbers; use one kind")
            ranges[key] = Range(**bounds)
        if "exists" in ops:
            if not isinstance(ops["exists"], bool):
                raise ConfigError(f"filter on {key!r}: exists takes true or false")
            exists[key] = ops["exists"]
    for key, given in (("domain", domain), ("doc_id", doc_id)):
        if given is None:
            continue
        if key in equals and equals[key] != given:
            raise ConfigError(f"{key} is given twice ({given!r} and {equals[key]!r}); keep one")
        equals[key] = given
    if not (equals or not_equals or ranges or exists):
        return None
    return Where(equals=equals, not_equals=not_equals, ranges=ranges, exists=exists)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY.match(key) or key == "text":
        raise ConfigError(
            f"cannot filter on {key!r}; use a payload key such as domain, doc_id, source, "
            "title, page or a field of your records"
        )


def _values(key: str, value: Any) -> Scalar | list[Scalar]:
    values = value if isinstance(value, list | tuple) else [value]
    if not values or not all(isinstance(v, str | int | bool) for v in values):
        raise ConfigError(
            f"filter on {key!r} takes a string, an integer, true/false or a list of them, "
            f"not {value!r}"
        )
    return list(values) if isinstance(value, list | tuple) else value


def _bound(key: str, value: Any) -> Bound:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        timed = "T" in value or " " in value.strip()  # a date-time, else a date
        try:
            (datetime if timed else date).fromisoformat(value)
        except ValueError:
            pass
        else:
            return value if timed else f"{value}T00:00:00Z"
    raise ConfigError(
        f"filter on {key!r}: a range takes a number or an ISO date (2026-12-31), not {value!r}"
    )


def parse_expressions(items: Sequence[str]) -> dict[str, Any]:
    """The CLI's `--filter` options as `Filters` (see the module's text)."""
    filters: dict[str, Any] = {}
    for item in items:
        if item.strip().startswith("{"):
            try:
                given = json.loads(item)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--filter JSON is not valid: {exc.msg}") from exc
            if not isinstance(given, dict):
                raise ConfigError("--filter JSON must be an object of key: condition")
            for key, condition in given.items():
                _merge(filters, key, condition)
            continue
        key, condition = parse_expression(item)
        _merge(filters, key, condition)
    where_of(filters)  # a mistake is reported now, naming the option
    return filters


def parse_expression(item: str) -> tuple[str, Any]:
    """One `--filter` expression: (key, condition)."""
    for suffix, present in ((":exists", True), (":missing", False)):
        if item.strip().endswith(suffix):
            return item.strip()[: -len(suffix)], {"exists": present}
    match = _EXPRESSION.match(item)
    if not match or not match["key"]:
        raise ConfigError(
            f"--filter takes key=value, key!=value, key>=N, key<N... or key:exists "
            f"(e.g. --filter year>=2020), not {item!r}"
        )
    key, op, value = match["key"], match["op"], match["value"].strip()
    if op in {"=", "=="}:
        return key, value
    if op == "!=":
        return key, {"ne": value}
    bound: Any = float(value) if _NUMBER.match(value) else value
    return key, {{">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[op]: bound}


def _merge(filters: dict[str, Any], key: str, condition: Any) -> None:
    """Add one key's condition; a key given twice: values become any-of, operators join."""
    if key not in filters:
        filters[key] = condition
        return
    previous = filters[key]
    if isinstance(previous, dict) and isinstance(condition, dict):
        filters[key] = {**previous, **condition}
    elif not isinstance(previous, dict) and not isinstance(condition, dict):
        filters[key] = [*(previous if isinstance(previous, list) else [previous]), condition]
    else:
        raise ConfigError(f"--filter gives {key!r} a value and an operator; give one form")
