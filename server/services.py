"""What every request handler reaches: the database, settings, plugins and executor."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from litestar import Request

from modellab.access.actor import Actor
from modellab.plugins import Registry
from modellab.runs.executors import Executor
from modellab.server.auth.rate_limit import SignInLimits
from modellab.settings import Settings
from modellab.store.database import Database

#: Who public routes run as: a member of nothing, so project queries find nothing.
NOBODY = Actor(user_id="", email="", via="anonymous")


@dataclass
class Services:
    """The long-lived objects of one server process.

    ``db`` is scoped to the request's user; ``system_db`` sees everything and is for
    sign-in itself (users, sessions, tokens), never for project data.
    """

    db: Database
    settings: Settings
    registry: Registry
    executor: Executor
    system_db: Database
    limits: SignInLimits = field(default_factory=SignInLimits)


def services_of(request: Request[Any, Any, Any]) -> Services:
    """The app's :class:`Services`, with ``db`` seen as the request's user (a DI provider)."""
    services = request.app.state.get("services")
    assert isinstance(services, Services), "the app started without its services"
    user = request.scope.get("user")
    actor = user if isinstance(user, Actor) else NOBODY
    return dataclasses.replace(services, db=services.system_db.as_actor(actor))
