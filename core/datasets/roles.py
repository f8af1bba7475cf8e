"""Column roles as the user writes them: ``COLUMN=ROLE`` pairs (CLI ``--role``, the
API's ``roles`` field), parsed once for both."""

from __future__ import annotations

from collections.abc import Iterable

from modellab.domain import ColumnRole
from modellab.errors import InvalidInputError

#: the roles a user may give (the target is ``--target``)
CHOSEN_ROLES = tuple(r.value for r in ColumnRole if r is not ColumnRole.TARGET)


def parse_roles(items: Iterable[str], field: str = "--role") -> dict[str, ColumnRole]:
    """``{column: role}`` from ``COLUMN=ROLE`` items (the last ``=`` splits, so a column
    name may hold one).

    :raises InvalidInputError: naming the item that is not ``COLUMN=ROLE``, an unknown
        role, or a column given two roles.
    """
    roles: dict[str, ColumnRole] = {}
    for item in items:
        column, sep, value = item.rpartition("=")
        column, value = column.strip(), value.strip()
        if not sep or not column:
            raise InvalidInputError(f"{field} expects COLUMN=ROLE, got {item!r}")
        if value == ColumnRole.TARGET:
            raise InvalidInputError(
                f"{field} {item!r}: the target is chosen with --target, not given a role"
            )
        if value not in CHOSEN_ROLES:
            raise InvalidInputError(
                f"{field} {item!r}: unknown role {value!r}; roles are {', '.join(CHOSEN_ROLES)}"
            )
        if column in roles and roles[column] != value:
            raise InvalidInputError(f"{field} gives column {column!r} two roles")
        roles[column] = ColumnRole(value)
    return roles
