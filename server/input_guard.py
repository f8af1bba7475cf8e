"""Refuse NUL characters in request input before any handler sees them.

PostgreSQL cannot store a NUL (``\\u0000``) in text or JSON, and SQLite would keep it
silently; either way a NUL in a name, note or config value is never meant. Path, query
and every body that is decoded as JSON (whatever its declared type; it must be UTF-8 too)
are checked here for every endpoint; the text fields of multipart forms
by :func:`refuse_nul_fields`, from the handlers that take forms.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from litestar import Request

from modellab.errors import InvalidInputError

# A \u0000 escape not itself escaped (an even number of backslashes before it).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_NUL = re.compile(r"%00|\x00")
#: bodies parsed as forms; their text fields are checked by refuse_nul_fields
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def refuse_nul(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: a 400 naming where the NUL is."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    if _URL_NUL.search(raw_path.decode("latin-1")):
        raise InvalidInputError("the request path contains a NUL character (%00)")
    query = request.scope.get("query_string") or b""
    if _URL_NUL.search(query.decode("latin-1")):
        raise InvalidInputError("the query string contains a NUL character (%00)")
    if request.method not in {"POST", "PUT", "PATCH"} or request.content_type[0] in FORM_TYPES:
        return
    # Every other body is decoded as JSON, whatever type it declares (a note sent as
    # text/plain too), so one rule holds for all of them, on every database. Litestar
    # keeps the body it read, so the handler does not read it twice.
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"the request body is not UTF-8 text (byte {exc.start} is 0x{body[exc.start]:02x})"
        ) from None
    if b"\x00" in body or _JSON_NUL.search(body):
        raise InvalidInputError("the request body contains a NUL character (\\u0000)")


def refuse_nul_fields(form: Any) -> None:
    """A 400 naming the first text field of a form dataclass that holds a NUL."""
    for field in dataclasses.fields(form):
        value = getattr(form, field.name)
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInputError(f"form field {field.name!r} contains a NUL character")
