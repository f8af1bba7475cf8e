"""Project service: create and list projects (CLI and API call these)."""

from __future__ import annotations

import re

from modellab.domain import Project
from modellab.errors import InvalidInputError
from modellab.store import projects as repo
from modellab.store.database import Database

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")


def slugify(name: str) -> str:
    """A URL- and path-safe slug from a project name (``My Churn!`` -> ``my-churn``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    if not slug:
        raise InvalidInputError(
            f"project name {name!r} has no letters or digits to make a slug from; pass --slug"
        )
    return slug


def check_slug(slug: str) -> str:
    """Refuse a slug that is not lowercase letters, digits and dashes (max 63)."""
    if not SLUG.match(slug):
        raise InvalidInputError(
            f"invalid project slug {slug!r}: use lowercase letters, digits and dashes, "
            "starting with a letter or digit, at most 63 characters"
        )
    return slug


async def create_project(db: Database, name: str, slug: str | None = None) -> Project:
    """Create a project named ``name``; its slug is derived unless given."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("a project name must be 1 to 200 characters")
    slug = check_slug(slug) if slug else slugify(name)
    async with db.session() as session:
        return await repo.insert_project(session, slug, name)


async def list_projects(db: Database) -> list[Project]:
    """All projects, by slug."""
    async with db.session() as session:
        return await repo.list_projects(session)


async def get_project(db: Database, slug: str) -> Project:
    """The project ``slug``."""
    async with db.session() as session:
        return await repo.get_project(session, slug)
