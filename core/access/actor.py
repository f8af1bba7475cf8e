"""The user a request or command runs as, and the roles a project member can hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: The single user of a local installation (no sign-in configured). Migration 0005
#: creates it and makes it the owner of every project that existed before users.
LOCAL_USER_ID = "00000000-0000-7000-8000-000000000001"
LOCAL_EMAIL = "local@localhost"


class Role(StrEnum):
    """A member's role in a project: viewers read, editors also write, owners also manage."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        """Order of privilege: viewer < editor < owner."""
        return _RANKS[self]


_RANKS = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


@dataclass(frozen=True)
class Actor:
    """A signed-in user, narrowed by the API token they used, if any."""

    user_id: str
    email: str
    #: how the request was authenticated: "local", "session" or "token"
    via: str = "local"
    #: a token limited to one project sees no other project
    project_id: str | None = None
    #: a read-only token may read what its user may read, and change nothing
    read_only: bool = False

    def sees_project(self, project_id: str) -> bool:
        """False when a project-limited token points elsewhere (membership aside)."""
        return self.project_id is None or self.project_id == project_id


LOCAL_ACTOR = Actor(user_id=LOCAL_USER_ID, email=LOCAL_EMAIL, via="local")
