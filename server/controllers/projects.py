"""Projects: create, list, get."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.status_codes import HTTP_201_CREATED

from modellab import projects
from modellab.domain import Project
from modellab.server.schemas import ProjectCreate
from modellab.server.services import Services


class ProjectController(Controller):
    """``/api/projects``"""

    path = "/api/projects"
    tags = ("projects",)

    @post("/", status_code=HTTP_201_CREATED)
    async def create_project(self, data: ProjectCreate, services: Services) -> Project:
        """Create a project; 409 when the slug is taken."""
        return await projects.create_project(services.db, data.name, data.slug)

    @get("/")
    async def list_projects(self, services: Services) -> list[Project]:
        """Every project, by slug."""
        return await projects.list_projects(services.db)

    @get("/{slug:str}")
    async def get_project(self, slug: str, services: Services) -> Project:
        """One project."""
        return await projects.get_project(services.db, slug)
