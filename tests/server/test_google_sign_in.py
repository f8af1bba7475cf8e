"""Google sign-in through the app's own routes, against an OpenID provider started here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from modellab.server.auth.sessions import COOKIE
from modellab.store.database import open_database
from modellab.store.models import SessionRow
from tests.server.conftest import Api, QueueOnly
from tests.server.oidc_provider import (
    DROP,
    OpenIdProvider,
    openid_provider,  # noqa: F401  (a fixture: pytest finds it by name in this module)
)

PUBLIC_URL = "http://testserver.local"


@pytest.fixture
def google_api(
    api_factory: Callable[..., Api],
    openid_provider: OpenIdProvider,  # noqa: F811
) -> tuple[Api, OpenIdProvider]:
    openid_provider.redirect_uri = f"{PUBLIC_URL}/auth/google/callback"
    api = api_factory(
        QueueOnly,
        public_url=PUBLIC_URL,
        oidc_issuer=openid_provider.issuer,
        oidc_client_id=openid_provider.client_id,
        oidc_client_secret=openid_provider.client_secret,
        sign_up_domains=("*",),
    )
    return api, openid_provider


def _to_provider(api: Api) -> str:
    """Press "Sign in with Google": the app's redirect to the provider."""
    start = api.client.get("/auth/google/start", follow_redirects=False)
    assert start.status_code == 302, start.text
    return str(start.headers["location"])


def _at_provider(provider: OpenIdProvider, url: str) -> tuple[str, str]:
    """The browser at the provider: it signs the person in and redirects back."""
    with httpx.Client(timeout=10) as browser:
        response = browser.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    back = httpx.URL(response.headers["location"])
    assert str(back.copy_with(query=None)) == provider.redirect_uri
    return back.params["code"], back.params["state"]


def _callback(api: Api, **params: str) -> Any:
    return api.client.get("/auth/google/callback", params=params, follow_redirects=False)


async def _sessions(api: Api) -> int:
    async with open_database(api.settings.database_url) as db, db.session() as s:
        return int((await s.execute(select(func.count()).select_from(SessionRow))).scalar_one())


async def test_google_sign_in_end_to_end(google_api: tuple[Api, OpenIdProvider]) -> None:
    api, provider = google_api
    methods = api.ok("GET", "/api/auth/methods")
    assert methods["google"] is True
    url = _to_provider(api)
    assert url.startswith(f"{provider.issuer}/authorize?")
    assert httpx.URL(url).params["code_challenge_method"] == "S256"
    code, state = _at_provider(provider, url)

    response = _callback(api, code=code, state=state)
    assert response.status_code == 303, response.text
    cookie = response.cookies[COOKIE]
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
    api.client.cookies.clear()
    me = api.ok("GET", "/api/auth/me", cookies={COOKIE: cookie})
    # Addresses are kept lower-case, so Google and a magic link reach the same user.
    assert me["email"] == provider.email.lower()
    assert me["via"] == "session"

    # The state was spent by the first callback: a replay signs nobody in.
    replay = _callback(api, code=code, state=state)
    assert replay.status_code == 401
    assert await _sessions(api) == 1


REFUSALS: list[tuple[str, dict[str, Any]]] = [
    ("wrong-nonce", {"nonce": "not-the-one-we-sent"}),
    ("wrong-issuer", {"iss": "https://evil.example"}),
    ("wrong-audience", {"aud": "someone-else"}),
    ("expired", {"exp": 1_000_000}),
    ("unverified-email", {"email_verified": False}),
    ("no-email", {"email": DROP}),
]


@pytest.mark.parametrize("claims", [c for _, c in REFUSALS], ids=[n for n, _ in REFUSALS])
async def test_bad_id_tokens_sign_nobody_in(
    google_api: tuple[Api, OpenIdProvider], claims: dict[str, Any]
) -> None:
    api, provider = google_api
    code, state = _at_provider(provider, _to_provider(api))
    provider.next_token_overrides = claims
    response = _callback(api, code=code, state=state)
    assert response.status_code == 401
    assert COOKIE not in response.cookies
    assert "Sign-in refused" in response.text and "Traceback" not in response.text
    assert await _sessions(api) == 0


async def test_forged_signature_signs_nobody_in(google_api: tuple[Api, OpenIdProvider]) -> None:
    api, provider = google_api
    code, state = _at_provider(provider, _to_provider(api))
    provider.next_token_signing = "forged"
    assert _callback(api, code=code, state=state).status_code == 401
    assert await _sessions(api) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"state": "made-up", "code": "x"},
        {"code": "x"},
        {"error": "access_denied"},
        {"error": "<script>alert(1)</script>"},
    ],
    ids=["unknown-state", "no-state", "provider-error", "markup-in-error"],
)
async def test_callbacks_without_a_started_sign_in_are_refused(
    google_api: tuple[Api, OpenIdProvider], params: dict[str, str]
) -> None:
    api, provider = google_api
    response = _callback(api, **params)
    assert response.status_code == 401
    assert "<script>" not in response.text
    assert provider.token_requests == 0
    assert await _sessions(api) == 0


async def test_a_state_from_another_browser_flow_cannot_be_swapped(
    google_api: tuple[Api, OpenIdProvider],
) -> None:
    # The code of one sign-in with the state of another: the PKCE verifier and the nonce
    # stored with that state do not fit the code, so the provider or the nonce check refuses.
    api, provider = google_api
    code_a, _ = _at_provider(provider, _to_provider(api))
    _, state_b = _at_provider(provider, _to_provider(api))
    assert _callback(api, code=code_a, state=state_b).status_code == 401
    assert await _sessions(api) == 0


def test_google_routes_say_when_sign_in_is_not_configured(
    api_factory: Callable[..., Api],
) -> None:
    api = api_factory(QueueOnly)
    response = api.client.get("/auth/google/start", follow_redirects=False)
    assert response.status_code == 400
    assert "MODELLAB_OIDC_CLIENT_ID" in response.json()["detail"]
