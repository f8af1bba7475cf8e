"""``runs/search``: MLflow's filter grammar, ``order_by`` and paging over tracked runs.

A filter is clauses joined by AND, each ``<entity>.<key> <comparator> <value>``:

- ``metrics.KEY`` (the newest value) with ``= != < <= > >=`` and a number;
- ``params.KEY`` and ``tags.KEY`` with ``= != LIKE ILIKE`` (and ``IN``/``NOT IN``) and
  quoted text;
- ``attributes.NAME``: ``run_id``, ``run_name``, ``status``, ``user_id``,
  ``artifact_uri`` as text, ``start_time`` and ``end_time`` (ms) as numbers.

A key with dots or spaces is quoted: ``tags."mlflow.runName"``, ``metrics.`val loss```.
A run without the key matches no clause on it; anything else (OR, datasets, a comparator
an entity does not take) is refused with a message saying what is possible.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from modellab.access.actor import Role
from modellab.errors import InvalidInputError
from modellab.mlflow.experiments import DEFAULT_NUMBER, epoch_ms, experiment_row, parse_number
from modellab.mlflow.runs import (
    RUN_NAME_TAG,
    STATUS_NAMES,
    USER_TAG,
    MlflowRun,
    artifact_uri,
    views,
)
from modellab.runs.tracking import TRACKED
from modellab.store.database import Database
from modellab.store.models import RunLatestMetricRow, RunParamRow, RunRow, RunTagRow
from modellab.store.projects import get_project_row

DEFAULT_MAX_RESULTS = 1000
MAX_RESULTS = 50_000

_ENTITIES = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
_TEXT_ATTRIBUTES = {"run_id", "run_name", "status", "user_id", "artifact_uri"}
_NUMBER_ATTRIBUTES = {"start_time": "start_time", "end_time": "end_time", "created": "start_time"}
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<quoted>`[^`]*`)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[^\s'"`()<>=!,]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    found, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise InvalidInputError(f"filter: cannot read {text[pos:][:40]!r}")
        found.append(_Token(m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return found


def _unquote(token: _Token) -> str:
    body = token.text[1:-1]
    if token.kind == "string":
        quote = token.text[0]
        return body.replace(quote * 2, quote)
    return body


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter."""

    entity: str  # metrics, params, tags, attributes
    key: str
    op: str
    value: Any  # float, str or tuple of str


class _Reader:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise InvalidInputError(f"filter: expected {what} at the end")
        self.i += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.i += 1
            return True
        return False


def _identifier(reader: _Reader) -> tuple[str, str]:
    token = reader.take("an identifier such as metrics.loss")
    if token.kind != "word":
        raise InvalidInputError(
            f"filter: expected an identifier such as metrics.loss, not {token.text!r}"
        )
    prefix, dot, rest = token.text.partition(".")
    if not dot:  # a bare attribute name: status = 'FINISHED'
        prefix, rest = "attributes", token.text
    entity = _ENTITIES.get(prefix.lower())
    if entity is None:
        if prefix.lower() in ("dataset", "datasets"):
            raise InvalidInputError("filter: searching by datasets is not supported here")
        raise InvalidInputError(
            f"filter: {token.text!r} must start with metrics., params., tags. or attributes."
        )
    if not rest:
        quoted = reader.take("a quoted key")
        if quoted.kind not in ("string", "quoted"):
            raise InvalidInputError(f"filter: expected a key after {token.text!r}")
        rest = _unquote(quoted)
    return entity, rest


def _operator(reader: _Reader) -> str:
    if reader.keyword("NOT"):
        if not reader.keyword("IN"):
            raise InvalidInputError("filter: NOT must be followed by IN")
        return "NOT IN"
    for word in ("LIKE", "ILIKE", "IN"):
        if reader.keyword(word):
            return word
    token = reader.take("a comparator")
    if token.kind != "op":
        raise InvalidInputError(f"filter: expected a comparator such as = or <, not {token.text!r}")
    return token.text


def _value(reader: _Reader, op: str) -> Any:
    if op in ("IN", "NOT IN"):
        if reader.take("(").text != "(":
            raise InvalidInputError(f"filter: {op} takes a list such as ('a', 'b')")
        items = []
        while True:
            token = reader.take("a quoted value")
            if token.kind != "string":
                raise InvalidInputError(f"filter: {op} lists quoted values, not {token.text!r}")
            items.append(_unquote(token))
            closing = reader.take(")").text
            if closing == ")":
                return tuple(items)
            if closing != ",":
                raise InvalidInputError(f"filter: expected , or ) in the {op} list")
    token = reader.take("a value")
    if token.kind == "string":
        return _unquote(token)
    if token.kind == "word":
        try:
            return float(token.text)
        except ValueError:
            pass
    raise InvalidInputError(f"filter: expected a number or a quoted value, not {token.text!r}")


def _check(clause: Clause) -> Clause:
    entity, key, op, value = clause.entity, clause.key, clause.op, clause.value
    number_kind = entity == "metrics" or (entity == "attributes" and key in _NUMBER_ATTRIBUTES)
    if entity == "attributes" and key not in _TEXT_ATTRIBUTES | set(_NUMBER_ATTRIBUTES):
        names = ", ".join(sorted(_TEXT_ATTRIBUTES | set(_NUMBER_ATTRIBUTES)))
        raise InvalidInputError(f"filter: unknown attribute {key!r}; one of {names}")
    allowed = _NUMBER_OPS if number_kind else _TEXT_OPS
    if op not in allowed:
        raise InvalidInputError(
            f"filter: {entity}.{key} takes {', '.join(allowed)}, not {op} "
            f"({'numbers' if number_kind else 'text'})"
        )
    if number_kind and not isinstance(value, float):
        raise InvalidInputError(f"filter: {entity}.{key} compares with a number, not {value!r}")
    if not number_kind and isinstance(value, float):
        raise InvalidInputError(
            f"filter: {entity}.{key} compares with quoted text: write '{value:g}'"
        )
    return clause


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of an MLflow filter string (empty: every run)."""
    if not text or not text.strip():
        return []
    reader = _Reader(_tokens(text))
    clauses = []
    while True:
        entity, key = _identifier(reader)
        op = _operator(reader)
        clauses.append(_check(Clause(entity, key, op, _value(reader, op))))
        if reader.peek() is None:
            return clauses
        if reader.keyword("OR"):
            raise InvalidInputError("filter: OR is not supported (MLflow's search has none)")
        if not reader.keyword("AND"):
            raise InvalidInputError(f"filter: expected AND, not {reader.take('AND').text!r}")


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    parts = ("." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), flags | re.DOTALL)


@dataclass
class _Facts:
    """What a search compares of one run: its attributes, and only the metrics, params
    and tags the filter and order name (a search over thousands of runs loads no more)."""

    row: RunRow
    attributes: dict[str, Any]
    values: dict[str, dict[str, Any]]


def _lookup(run: _Facts, entity: str, key: str) -> Any:
    """The value a clause or an order compares (None: the run has no such key)."""
    if entity == "attributes":
        return run.attributes[_NUMBER_ATTRIBUTES.get(key, key)]
    return run.values[entity].get(key)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "LIKE": lambda a, b: _like(b, 0).fullmatch(a) is not None,
    "ILIKE": lambda a, b: _like(b, re.IGNORECASE).fullmatch(a) is not None,
    "IN": lambda a, b: a in b,
    "NOT IN": lambda a, b: a not in b,
}


def matches(run: _Facts, clauses: Sequence[Clause]) -> bool:
    """Whether ``run`` meets every clause."""
    for c in clauses:
        value = _lookup(run, c.entity, c.key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if not _COMPARE[c.op](value, c.value):
            return False
    return True


@dataclass(frozen=True)
class Order:
    """One ``order_by`` entry."""

    entity: str
    key: str
    descending: bool


def parse_order(items: Sequence[str]) -> list[Order]:
    """MLflow ``order_by`` entries such as ``metrics.loss DESC``."""
    orders = []
    for item in items:
        reader = _Reader(_tokens(item))
        entity, key = _identifier(reader)
        if entity == "attributes" and key not in _TEXT_ATTRIBUTES | set(_NUMBER_ATTRIBUTES):
            raise InvalidInputError(f"order_by: unknown attribute {key!r}")
        descending = False
        if reader.keyword("DESC"):
            descending = True
        else:
            reader.keyword("ASC")
        if reader.peek() is not None:
            raise InvalidInputError(f"order_by {item!r}: expected KEY [ASC|DESC]")
        orders.append(Order(entity, key, descending))
    return orders


def _sorted(runs: list[_Facts], orders: Sequence[Order]) -> list[_Facts]:
    # MLflow's default order comes last and breaks every tie; runs without a key sort
    # after the runs with one, in either direction.
    result = sorted(runs, key=lambda r: r.row.id)
    for order in [*orders, Order("attributes", "start_time", True)][::-1]:
        present = [r for r in result if _present(_lookup(r, order.entity, order.key))]
        absent = [r for r in result if not _present(_lookup(r, order.entity, order.key))]
        present.sort(key=lambda r: _lookup(r, order.entity, order.key), reverse=order.descending)
        result = present + absent
    return result


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def page_token(offset: int) -> str:
    """The opaque token of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def read_page_token(token: str | None) -> int:
    """The offset a page token stands for (0 without one)."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInputError("page_token: not a token this server gave") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInputError("page_token: not a token this server gave")
    return offset


async def search_runs(
    db: Database,
    project: str,
    experiment_ids: Sequence[str],
    filter_text: str | None = None,
    order_by: Sequence[str] = (),
    max_results: int = DEFAULT_MAX_RESULTS,
    token: str | None = None,
) -> tuple[list[MlflowRun], str | None]:
    """The tracked runs of the experiments that match the filter, in order, one page;
    with the next page's token (None: this was the last)."""
    if not experiment_ids:
        raise InvalidInputError("experiment_ids: name at least one experiment, such as '0'")
    if not 1 <= max_results <= MAX_RESULTS:
        raise InvalidInputError(f"max_results must be from 1 to {MAX_RESULTS:,}")
    clauses = parse_filter(filter_text)
    orders = parse_order(order_by)
    offset = read_page_token(token)
    numbers = {parse_number(e) for e in experiment_ids}
    named: dict[str, set[str]] = {"metrics": set(), "params": set(), "tags": set()}
    for entity, key in [(c.entity, c.key) for c in clauses] + [(o.entity, o.key) for o in orders]:
        if entity in named:
            named[entity].add(key)
    async with db.session() as session:
        proj = await get_project_row(session, project, Role.VIEWER)
        groups = [await experiment_row(session, proj, n) for n in sorted(numbers)]
        wanted: ColumnElement[bool] = RunRow.experiment_id.in_([g.id for g in groups])
        if DEFAULT_NUMBER in numbers:  # runs logged without an experiment are the Default's
            wanted = or_(wanted, RunRow.experiment_id.is_(None))
        scope = (RunRow.project_id == proj.id, RunRow.kind == TRACKED, wanted)
        rows = (await session.scalars(select(RunRow).where(*scope))).all()
        facts = {r.id: _facts(r) for r in rows}
        await _load_named(session, select(RunRow.id).where(*scope), named, facts)
        found = _sorted([f for f in facts.values() if matches(f, clauses)], orders)
        page = [f.row for f in found[offset : offset + max_results]]
        runs = [
            v
            for i in range(0, len(page), VIEW_CHUNK)
            for v in await views(session, page[i : i + VIEW_CHUNK])
        ]
    more = offset + max_results < len(found)
    return runs, page_token(offset + max_results) if more else None


#: runs viewed per query batch (a query takes at most a few thousand parameters)
VIEW_CHUNK = 1000


def _facts(row: RunRow) -> _Facts:
    return _Facts(
        row=row,
        attributes={
            "run_id": row.id,
            "run_name": row.model,
            "status": STATUS_NAMES[row.status],
            "user_id": "",
            "artifact_uri": artifact_uri(row.id),
            "start_time": epoch_ms(row.started_at or row.created_at),
            "end_time": epoch_ms(row.finished_at),
        },
        values={"metrics": {}, "params": {}, "tags": {RUN_NAME_TAG: row.model}},
    )


async def _load_named(
    session: Any, run_ids: Any, named: dict[str, set[str]], facts: dict[str, _Facts]
) -> None:
    """Fill in the metrics, params and tags (and the user) that the search compares."""
    if named["metrics"]:
        for run_id, key, value, nan in await session.execute(
            select(
                RunLatestMetricRow.run_id,
                RunLatestMetricRow.key,
                RunLatestMetricRow.value,
                RunLatestMetricRow.nan,
            ).where(
                RunLatestMetricRow.run_id.in_(run_ids),
                RunLatestMetricRow.key.in_(sorted(named["metrics"])),
            )
        ):
            facts[run_id].values["metrics"][key] = math.nan if nan else float(value)
    if named["params"]:
        for run_id, key, value in await session.execute(
            select(RunParamRow.run_id, RunParamRow.key, RunParamRow.value).where(
                RunParamRow.run_id.in_(run_ids), RunParamRow.key.in_(sorted(named["params"]))
            )
        ):
            facts[run_id].values["params"][key] = value
    keys = named["tags"] - {RUN_NAME_TAG} | {USER_TAG}
    for run_id, key, value in await session.execute(
        select(RunTagRow.run_id, RunTagRow.key, RunTagRow.value).where(
            RunTagRow.run_id.in_(run_ids), RunTagRow.key.in_(sorted(keys))
        )
    ):
        facts[run_id].values["tags"][key] = value
        if key == USER_TAG:
            facts[run_id].attributes["user_id"] = value
