"""API tokens of the signed-in user, and the members of a project."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from modellab.access import members, tokens
from modellab.server.schemas import MemberSet, TokenCreate
from modellab.server.services import Services


class TokenController(Controller):
    """``/api/tokens``: the user's own tokens."""

    path = "/api/tokens"
    tags = ("access",)

    @post("/", status_code=HTTP_201_CREATED)
    async def create_token(self, data: TokenCreate, services: Services) -> tokens.NewToken:
        """A new token; its secret is in this answer and nowhere else, ever."""
        return await tokens.create_token(
            services.db,
            data.name,
            data.project,
            data.read_only,
            data.expires_in_days,
            services.settings.token_days,
        )

    @get("/")
    async def list_tokens(self, services: Services) -> list[tokens.ApiToken]:
        """The user's tokens, newest first, with last use and expiry (never their secrets).

        A project-limited token lists only the tokens of its project.
        """
        return await tokens.list_tokens(services.db)

    @delete("/{token_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def revoke_token(self, token_id: str, services: Services) -> None:
        """Revoke a token: it stops working at once."""
        await tokens.revoke_token(services.db, token_id)


class MemberController(Controller):
    """``/api/projects/{slug}/members``: who may see and change a project."""

    path = "/api/projects/{slug:str}/members"
    tags = ("access",)

    @get("/")
    async def list_members(self, slug: str, services: Services) -> list[members.Member]:
        """Members and roles, by email."""
        return await members.list_members(services.db, slug)

    @put("/")
    async def set_member(self, slug: str, data: MemberSet, services: Services) -> members.Member:
        """Add a member or change a role (owners only)."""
        return await members.set_member(services.db, slug, data.email, data.role)

    @delete("/{email:str}", status_code=HTTP_204_NO_CONTENT)
    async def remove_member(self, slug: str, email: str, services: Services) -> None:
        """Remove a member (owners only); the last owner stays."""
        await members.remove_member(services.db, slug, email)
