"""What every request handler reaches: the database, settings, plugins and executor."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import State

from modellab.plugins import Registry
from modellab.server.executors import Executor
from modellab.settings import Settings
from modellab.store.database import Database


@dataclass
class Services:
    """The long-lived objects of one server process."""

    db: Database
    settings: Settings
    registry: Registry
    executor: Executor


def services_of(state: State) -> Services:
    """The :class:`Services` stored on the app's state at start-up (a DI provider)."""
    services = state.get("services")
    assert isinstance(services, Services), "the app started without its services"
    return services
