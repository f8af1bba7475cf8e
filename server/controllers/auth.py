"""Sign-in and sign-out: magic links, OpenID Connect (Google), the current user.

The magic link's GET shows a confirm button and only its POST signs in, so mail
scanners that open links do not use them up.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_202_ACCEPTED
from sqlalchemy import update

from modellab.access.actor import Actor
from modellab.access.secrets import digest
from modellab.access.users import User, normalize_email, user_for_sign_in
from modellab.errors import InvalidInputError, NotAuthenticatedError, RateLimitedError
from modellab.server.auth import magic_link
from modellab.server.auth.middleware import PUBLIC, check_origin
from modellab.server.auth.sessions import COOKIE, LIFETIME, create_session, revoke_session
from modellab.server.schemas import Accepted, MagicLinkRequest, Me, SignInMethods
from modellab.server.services import Services
from modellab.store.models import SignInStateRow, utcnow

if TYPE_CHECKING:
    from modellab.server.auth.oidc import OidcClient

SENT = "If this address can sign in, a link is on its way. It works once, for 15 minutes."
# The link carries its token in the fragment, which only the page itself can read: this
# script moves it into the form and out of the address bar (and so out of history).
READ_TOKEN = (
    'var t=new URLSearchParams(location.hash.slice(1)).get("token");'
    'if(t){document.getElementById("token").value=t;'
    'history.replaceState(null,"",location.pathname);}'
)
READ_TOKEN_HASH = base64.b64encode(hashlib.sha256(READ_TOKEN.encode()).digest()).decode()
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        f"script-src 'sha256-{READ_TOKEN_HASH}'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": under it browsers send "Origin: null" with the confirm form's
    # POST, which the Origin check must refuse. "same-origin" still keeps the link's
    # token from leaking to other sites.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str, status: int = 200) -> Response[str]:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="data:,">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(text, status_code=status, media_type="text/html", headers=PAGE_HEADERS)


def _client_address(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client is not None else "unknown"


async def _session_response(services: Services, user: User) -> Redirect:
    secret = await create_session(services.system_db, user)
    response = Redirect("/", status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=(services.settings.public_url or "").startswith("https://"),
    )
    return response


class AuthController(Controller):
    """``/api/auth`` and the sign-in pages under ``/auth``."""

    tags = ("auth",)

    @get("/api/auth/methods", opt={PUBLIC: True})
    async def methods(self, request: Request[Any, Any, Any], services: Services) -> SignInMethods:
        """How people sign in here, and who is signed in (no sign-in needed)."""
        s = services.settings
        user = request.scope.get("user")
        return SignInMethods(
            sign_in_required=s.sign_in_enabled,
            magic_link=s.sign_in_enabled,
            google=s.oidc_enabled,
            email=user.email if isinstance(user, Actor) else None,
        )

    @get("/api/auth/me")
    async def me(self, request: Request[Actor, Any, Any]) -> Me:
        """The signed-in user."""
        actor = request.user
        return Me(actor.email, actor.via, actor.read_only, actor.project_id)

    @post("/api/auth/magic-link", opt={PUBLIC: True}, status_code=HTTP_202_ACCEPTED)
    async def request_magic_link(
        self, data: MagicLinkRequest, request: Request[Any, Any, Any], services: Services
    ) -> Response[Accepted]:
        """Mail a sign-in link; the answer is the same whether or not the address is known."""
        settings = services.settings
        if not settings.sign_in_enabled:
            raise InvalidInputError(
                "sign-in is not enabled: this server runs in local mode; set MODELLAB_PUBLIC_URL"
            )
        email = normalize_email(data.email)
        client = _client_address(request)
        limits = services.limits
        for limiter, key, what in (
            (limits.per_client, client, "from this client"),
            (limits.per_client_email, f"{client} {email}", "for this email"),
            (limits.per_email, email, "for this email"),
        ):
            wait = limiter.hit(key)
            if wait:
                raise RateLimitedError(
                    f"too many sign-in links asked {what}; try again in {wait} s", wait
                )
        # Everything that depends on the address happens after the answer is sent.
        task = BackgroundTask(magic_link.issue_link, services.system_db, settings, email)
        return Response(Accepted(SENT), status_code=HTTP_202_ACCEPTED, background=task)

    @get(magic_link.CONFIRM_PATH, opt={PUBLIC: True}, include_in_schema=False)
    async def confirm_page(self) -> Response[str]:
        """The page a sign-in link opens: one button, because only a POST signs in."""
        return _page(
            "Sign in to ModelLab",
            f'<form method="post" action="{magic_link.CONFIRM_PATH}">'
            '<input type="hidden" name="token" id="token" value="">'
            '<button type="submit">Sign in</button></form>'
            "<noscript><p>This page needs JavaScript to read the link.</p></noscript>"
            f"<script>{READ_TOKEN}</script>",
        )

    @post(magic_link.CONFIRM_PATH, opt={PUBLIC: True}, include_in_schema=False)
    async def redeem(
        self,
        request: Request[Any, Any, Any],
        services: Services,
        data: dict[str, str] = Body(media_type=RequestEncodingType.URL_ENCODED),  # noqa: B008
    ) -> Response[Any]:
        """Use the link: a fresh session and a redirect to the UI."""
        if not services.settings.sign_in_enabled:
            raise InvalidInputError("sign-in is not enabled on this server (local mode)")
        check_origin(request, services.settings)
        try:
            user = await magic_link.redeem_link(
                services.system_db, services.settings, str(data.get("token", ""))
            )
        except NotAuthenticatedError as exc:
            return _page("This link does not work", f"<p>{html.escape(exc.message)}</p>", 401)
        return await _session_response(services, user)

    @post(
        "/api/auth/sign-out",
        status_code=204,
        # Expire the cookie in the browser too (the session is already dead server-side).
        response_cookies=[Cookie(key=COOKIE, value="", max_age=0, path="/", httponly=True)],
    )
    async def sign_out(self, request: Request[Any, Any, Any], services: Services) -> None:
        """End this session on the server, and drop the cookie."""
        cookie = request.cookies.get(COOKIE)
        if cookie:
            await revoke_session(services.system_db, cookie)

    @get("/auth/google/start", opt={PUBLIC: True}, include_in_schema=False)
    async def google_start(self, services: Services) -> Redirect:
        """Send the browser to the OpenID provider, with PKCE, state and nonce."""
        client = _oidc_client(services)
        url, pending = await client.start()
        async with services.system_db.session() as session:
            session.add(
                SignInStateRow(
                    state_hash=digest(pending.state),
                    nonce=pending.nonce,
                    code_verifier=pending.code_verifier,
                    created_at=utcnow(),
                )
            )
        return Redirect(url, status_code=302)

    @get("/auth/google/callback", opt={PUBLIC: True}, include_in_schema=False)
    async def google_callback(
        self,
        services: Services,
        code: str = "",
        # "state" is a reserved parameter name in Litestar (the app state)
        sign_in_state: Annotated[str, Parameter(query="state")] = "",
        error: str = "",
    ) -> Response[Any]:
        """Verify the provider's answer and sign in."""
        state = sign_in_state
        client = _oidc_client(services)
        if error or not code or not state:
            return _page("Sign-in refused", f"<p>{html.escape(error or 'no code')}</p>", 401)
        async with services.system_db.session() as session:
            row = (
                await session.execute(
                    update(SignInStateRow)
                    .where(
                        SignInStateRow.state_hash == digest(state),
                        SignInStateRow.used_at.is_(None),
                    )
                    .values(used_at=utcnow())
                    .returning(SignInStateRow)
                )
            ).scalar_one_or_none()
        if row is None:
            return _page("Sign-in refused", "<p>unknown or used sign-in state</p>", 401)
        from modellab.server.auth import oidc

        pending = oidc.PendingSignIn(
            state=state,
            nonce=row.nonce,
            code_verifier=row.code_verifier,
            created_at=row.created_at.timestamp(),
        )
        try:
            identity = await client.finish(code=code, state=state, pending=pending)
        except oidc.OidcError as exc:
            return _page("Sign-in refused", f"<p>{html.escape(str(exc))}</p>", 401)
        try:
            email = normalize_email(identity.email)
        except InvalidInputError as exc:
            return _page("Sign-in refused", f"<p>{html.escape(exc.message)}</p>", 401)
        async with services.system_db.session() as session:
            user_row = await user_for_sign_in(
                session, email, may_sign_up=services.settings.may_sign_up(email), name=identity.name
            )
            if user_row is None:
                return _page("Sign-in refused", f"<p>{html.escape(magic_link.NO_ACCOUNT)}</p>", 403)
            user = User(user_row.id, user_row.email, user_row.name)
        return await _session_response(services, user)


_clients: dict[Any, Any] = {}


def _oidc_client(services: Services) -> OidcClient:
    """One client per configuration, so discovery and keys are fetched once."""
    from modellab.server.auth import oidc

    s = services.settings
    if not s.oidc_enabled or s.public_url is None:
        raise InvalidInputError(
            "sign-in with Google is not configured: set MODELLAB_PUBLIC_URL, "
            "MODELLAB_OIDC_CLIENT_ID and MODELLAB_OIDC_CLIENT_SECRET"
        )
    config = oidc.OidcConfig(
        issuer=s.oidc_issuer,
        client_id=s.oidc_client_id or "",
        client_secret=s.oidc_client_secret or "",
        redirect_uri=f"{s.public_url}/auth/google/callback",
    )
    if config not in _clients:
        _clients[config] = oidc.OidcClient(config)
    client: OidcClient = _clients[config]
    return client
