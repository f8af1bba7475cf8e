"""OpenID Connect sign-in against a real provider on a loopback port; each refusal has a reason."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modellab.server.auth.oidc import (
    GOOGLE_ISSUER,
    OidcClient,
    OidcConfig,
    OidcError,
    VerifiedIdentity,
    code_challenge,
)
from tests.server.conftest import free_port
from tests.server.oidc_provider import (
    DROP,
    Authorization,
    OpenIdProvider,
    Signing,
    openid_provider,  # noqa: F401  (a fixture: pytest finds it by name in this module)
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@dataclass
class Flow:
    """The provider, a client registered with it, and the browser that goes between."""

    provider: OpenIdProvider
    client: OidcClient
    browser: httpx.AsyncClient

    async def authorize(self, url: str) -> tuple[str, str]:
        return await self.provider.authorize(url, self.browser)

    async def sign_in(self, client: OidcClient | None = None) -> VerifiedIdentity:
        """The whole round trip: start, the browser at the provider, finish."""
        client = client or self.client
        url, pending = await client.start()
        code, state = await self.authorize(url)
        return await client.finish(code=code, state=state, pending=pending)

    async def refused(self, client: OidcClient | None = None) -> str:
        """Sign in, expect a refusal with a message; return its reason."""
        with pytest.raises(OidcError) as caught:
            await self.sign_in(client)
        assert str(caught.value)
        return caught.value.reason


@pytest.fixture
def flow(openid_provider: OpenIdProvider, http: httpx.AsyncClient) -> Flow:  # noqa: F811
    return Flow(openid_provider, OidcClient(openid_provider.oidc_config(), http=http), http)


async def test_sign_in_end_to_end(flow: Flow) -> None:
    url, pending = await flow.client.start()
    params = httpx.URL(url).params
    assert url.startswith(f"{flow.provider.issuer}/authorize?")
    assert dict(params) == {
        "response_type": "code",
        "client_id": flow.provider.client_id,
        "redirect_uri": flow.provider.redirect_uri,
        "scope": "openid email profile",
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": code_challenge(pending.code_verifier),
        "code_challenge_method": "S256",
    }
    assert len(pending.state) == len(pending.nonce) == 43  # 32 random bytes, base64url
    assert len(pending.code_verifier) == 64
    assert abs(pending.created_at - time.time()) < 5

    code, state = await flow.authorize(url)
    identity = await flow.client.finish(code=code, state=state, pending=pending)

    assert identity == VerifiedIdentity(
        issuer=flow.provider.issuer,
        subject="user-1234",
        email="ada.lovelace@example.org",
        name="Ada Lovelace",
    )
    [seen] = flow.provider.authorizations
    assert seen == Authorization(
        client_id=flow.provider.client_id,
        redirect_uri=flow.provider.redirect_uri,
        scope="openid email profile",
        state=pending.state,
        nonce=pending.nonce,
        code_challenge=code_challenge(pending.code_verifier),
        code_challenge_method="S256",
    )


def test_code_challenge_is_rfc_7636_s256() -> None:
    # The example of RFC 7636 appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


async def test_every_sign_in_gets_fresh_secrets(flow: Flow) -> None:
    (_, a), (_, b) = await flow.client.start(), await flow.client.start()
    assert a.state != b.state and a.nonce != b.nonce and a.code_verifier != b.code_verifier


async def test_without_a_shared_http_client(flow: Flow) -> None:
    client = OidcClient(flow.provider.oidc_config())
    assert (await flow.sign_in(client)).subject == "user-1234"


async def test_es256_tokens_are_accepted(flow: Flow) -> None:
    flow.provider.next_token_signing = "ec"
    assert (await flow.sign_in()).email == "ada.lovelace@example.org"


async def test_metadata_and_keys_are_cached(flow: Flow) -> None:
    await flow.sign_in()
    await flow.sign_in()
    assert (flow.provider.discovery_requests, flow.provider.jwks_requests) == (1, 1)


async def test_wrong_state_is_refused_before_the_code_is_spent(flow: Flow) -> None:
    url, pending = await flow.client.start()
    code, state = await flow.authorize(url)
    for forged in ("", state[:-1], state + "x", "é" * 43):
        with pytest.raises(OidcError) as caught:
            await flow.client.finish(code=code, state=forged, pending=pending)
        assert caught.value.reason == "state"
    assert flow.provider.token_requests == 0


async def test_pending_sign_in_older_than_max_age_is_refused(flow: Flow) -> None:
    url, pending = await flow.client.start()
    code, state = await flow.authorize(url)
    stale = dataclasses.replace(pending, created_at=time.time() - 601)
    with pytest.raises(OidcError) as caught:
        await flow.client.finish(code=code, state=state, pending=stale)
    assert caught.value.reason == "state"
    with pytest.raises(OidcError) as caught:
        await flow.client.finish(code=code, state=state, pending=pending, max_age_seconds=0)
    assert caught.value.reason == "state"
    assert flow.provider.token_requests == 0
    # The same code still works while the sign-in is young: only its age was wrong.
    assert await flow.client.finish(code=code, state=state, pending=pending)


async def test_pkce_verifier_mismatch_fails_the_token_exchange(flow: Flow) -> None:
    url, pending = await flow.client.start()
    code, state = await flow.authorize(url)
    other = dataclasses.replace(pending, code_verifier=pending.code_verifier[::-1])
    with pytest.raises(OidcError) as caught:
        await flow.client.finish(code=code, state=state, pending=other)
    assert caught.value.reason == "token_exchange"
    assert "invalid_grant" in str(caught.value)
    assert flow.provider.token_requests == 1


async def test_a_code_works_once(flow: Flow) -> None:
    url, pending = await flow.client.start()
    code, state = await flow.authorize(url)
    await flow.client.finish(code=code, state=state, pending=pending)
    with pytest.raises(OidcError) as caught:
        await flow.client.finish(code=code, state=state, pending=pending)
    assert caught.value.reason == "token_exchange"


async def test_wrong_client_secret_fails_the_token_exchange(
    flow: Flow,
) -> None:
    config = dataclasses.replace(flow.provider.oidc_config(), client_secret="not-it")
    assert await flow.refused(OidcClient(config, http=flow.browser)) == "token_exchange"


@pytest.mark.parametrize(
    "reply",
    [
        (400, '{"error": "invalid_request"}'),
        (500, "<html>down</html>"),
        (200, "<html>not json</html>"),
        (200, '["a list"]'),
        (200, '{"access_token": "x", "token_type": "Bearer"}'),
        (200, '{"id_token": 42}'),
    ],
    ids=["error", "server-error", "not-json", "not-an-object", "no-id-token", "id-token-not-str"],
)
async def test_bad_token_responses_fail_the_exchange(flow: Flow, reply: tuple[int, str]) -> None:
    flow.provider.next_token_reply = reply
    assert await flow.refused() == "token_exchange"


def _now() -> int:
    return int(time.time())


# (claims to change, how to sign, expected reason); a callable sees the provider.
Overrides = dict[str, Any] | Callable[[OpenIdProvider], dict[str, Any]]
REJECTIONS: list[tuple[str, Overrides, Signing, str]] = [
    ("wrong-issuer", {"iss": "http://evil.example"}, "rsa", "issuer"),
    ("issuer-with-slash", lambda p: {"iss": p.issuer + "/"}, "rsa", "issuer"),
    ("wrong-audience", {"aud": "another-client"}, "rsa", "audience"),
    ("audience-list-without-us", {"aud": ["another-client"]}, "rsa", "audience"),
    ("azp-mismatch", {"azp": "another-client"}, "rsa", "audience"),
    ("several-audiences-no-azp", lambda p: {"aud": [p.client_id, "another"]}, "rsa", "audience"),
    ("expired", lambda p: {"exp": _now() - 120, "iat": _now() - 500}, "rsa", "expired"),
    ("issued-in-the-future", lambda p: {"iat": _now() + 300}, "rsa", "expired"),
    ("wrong-nonce", {"nonce": "someone-elses-nonce"}, "rsa", "nonce"),
    ("no-nonce", {"nonce": DROP}, "rsa", "nonce"),
    ("email-unverified", {"email_verified": False}, "rsa", "email_unverified"),
    ("email-verified-missing", {"email_verified": DROP}, "rsa", "email_unverified"),
    ("email-verified-string", {"email_verified": "false"}, "rsa", "email_unverified"),
    ("no-email", {"email": DROP}, "rsa", "no_email"),
    ("empty-email", {"email": ""}, "rsa", "no_email"),
    ("unknown-key", {}, "unknown_key", "signature"),
    ("forged-signature", {}, "forged", "signature"),
    ("encryption-key", {}, "encryption_key", "signature"),
    ("alg-none", {}, "none", "signature"),
    ("hs256-with-client-secret", {}, "hs256", "signature"),
    *[
        (f"no-{claim}", {claim: DROP}, "rsa", "malformed")
        for claim in ("iss", "aud", "exp", "iat", "sub")
    ],
    ("empty-sub", {"sub": ""}, "rsa", "malformed"),
    ("exp-not-a-number", {"exp": "tomorrow"}, "rsa", "malformed"),
]


@pytest.mark.parametrize(
    ("overrides", "signing", "reason"),
    [r[1:] for r in REJECTIONS],
    ids=[r[0] for r in REJECTIONS],
)
async def test_bad_id_tokens_are_refused_with_their_reason(
    flow: Flow,
    overrides: Overrides,
    signing: Signing,
    reason: str,
) -> None:
    # A good sign-in first, so key checks run against a warm cache as in production.
    await flow.sign_in()
    flow.provider.next_token_overrides = (
        overrides(flow.provider) if callable(overrides) else overrides
    )
    flow.provider.next_token_signing = signing
    assert await flow.refused() == reason


@pytest.mark.parametrize("signing", ["none", "hs256"])
async def test_unsigned_and_symmetric_tokens_are_refused_before_any_key_lookup(
    flow: Flow, signing: Signing
) -> None:
    await flow.sign_in()
    # An unknown kid would make a client that looks keys up first fetch the JWKS again.
    flow.provider.next_token_signing, flow.provider.next_token_kid = signing, "rotated-away"
    assert await flow.refused() == "signature"
    assert flow.provider.jwks_requests == 1


@pytest.mark.parametrize("kid", ["", "rsa-0"], ids=["no-kid", "retired-kid"])
async def test_tokens_must_name_a_published_key(flow: Flow, kid: str) -> None:
    await flow.sign_in()
    flow.provider.next_token_kid = kid
    assert await flow.refused() == "signature"


async def test_an_id_token_that_is_not_a_jwt_is_malformed(flow: Flow) -> None:
    flow.provider.next_token_reply = (200, json.dumps({"id_token": "not-a-jwt"}))
    assert await flow.refused() == "malformed"


async def test_expiry_within_the_leeway_is_accepted(flow: Flow) -> None:
    flow.provider.next_token_overrides = {"exp": _now() - 5}
    assert await flow.sign_in()


async def test_matching_azp_and_audience_list_are_accepted(flow: Flow) -> None:
    cid = flow.provider.client_id
    flow.provider.next_token_overrides = {"aud": [cid, "another"], "azp": cid}
    assert await flow.sign_in()


async def test_rotated_key_is_fetched_once_and_accepted(flow: Flow) -> None:
    await flow.sign_in()
    assert flow.provider.jwks_requests == 1
    flow.provider.rotate_key()
    assert (await flow.sign_in()).subject == "user-1234"
    assert flow.provider.jwks_requests == 2
    await flow.sign_in()
    assert flow.provider.jwks_requests == 2


async def test_unknown_key_refetches_the_keys_only_once(flow: Flow) -> None:
    await flow.sign_in()
    flow.provider.next_token_signing = "unknown_key"
    assert await flow.refused() == "signature"
    assert flow.provider.jwks_requests == 2


async def test_discovery_issuer_must_match_exactly(
    flow: Flow,
) -> None:
    config = dataclasses.replace(flow.provider.oidc_config(), issuer=flow.provider.issuer + "/")
    with pytest.raises(OidcError) as caught:
        await OidcClient(config, http=flow.browser).start()
    assert caught.value.reason == "discovery"


async def test_unreachable_provider_is_a_discovery_error(http: httpx.AsyncClient) -> None:
    config = OidcConfig(
        issuer=f"http://127.0.0.1:{free_port()}",
        client_id="c",
        client_secret="s",
        redirect_uri="http://127.0.0.1/cb",
    )
    with pytest.raises(OidcError) as caught:
        await OidcClient(config, http=http).start()
    assert caught.value.reason == "discovery"


def test_config_without_openid_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="openid"):
        OidcConfig("https://idp.example", "c", "s", "https://app.example/cb", scopes=("email",))


async def test_google_short_issuer_spelling_is_accepted() -> None:
    """Google documents ``accounts.google.com`` as a valid ``iss`` besides its URL."""
    provider = OpenIdProvider()  # not served: its keys and tokens, over a mock transport
    provider.issuer = GOOGLE_ISSUER
    authorizations: list[Authorization] = []

    def google(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": GOOGLE_ISSUER,
                    "authorization_endpoint": f"{GOOGLE_ISSUER}/o/oauth2/v2/auth",
                    "token_endpoint": f"{GOOGLE_ISSUER}/token",
                    "jwks_uri": f"{GOOGLE_ISSUER}/certs",
                },
            )
        if path == "/certs":
            return httpx.Response(200, json=provider.jwks())
        if path == "/token":
            provider.next_token_overrides = {"iss": "accounts.google.com"}
            return httpx.Response(200, json={"id_token": provider.id_token(authorizations[0])})
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(google)) as http:
        client = OidcClient(provider.oidc_config(), http=http)
        url, pending = await client.start()
        q = httpx.URL(url).params
        authorizations.append(
            Authorization(
                **{f.name: q[f.name] for f in dataclasses.fields(Authorization)},
            )
        )
        identity = await client.finish(code="c", state=pending.state, pending=pending)
    assert identity.issuer == GOOGLE_ISSUER
