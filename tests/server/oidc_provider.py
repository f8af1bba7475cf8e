"""A small but real OpenID provider for tests, served by uvicorn on a loopback port.

It speaks the authorization code flow with PKCE over HTTP the way Google does: discovery
document, JWKS, an authorization endpoint that redirects back with ``code`` and ``state``,
and a token endpoint (client_secret_post) that checks the client, the code, the redirect URI
and the PKCE verifier before it returns a signed ID token.

Use the ``openid_provider`` fixture (import it explicitly into the test module or a
conftest; ruff then wants ``noqa: F811`` where a test names it as a parameter)::

    from tests.server.oidc_provider import OpenIdProvider, openid_provider  # noqa: F401

    async def test_x(openid_provider: OpenIdProvider) -> None:  # noqa: F811
        client = OidcClient(openid_provider.oidc_config())
        url, pending = await client.start()
        code, state = await openid_provider.authorize(url)   # the browser's round trip
        identity = await client.finish(code=code, state=state, pending=pending)

To make the next ID token bad, set before ``finish`` (each applies once, then resets):

- ``next_token_overrides``: claims to set on the next ID token; ``DROP`` removes a claim.
- ``next_token_signing``: ``"rsa"`` (default, the published RSA key), ``"ec"`` (the published
  ES256 key), ``"unknown_key"`` (a key and kid the JWKS never lists), ``"forged"`` (the
  published kid, signed by another key), ``"encryption_key"`` (the published key marked
  ``use: enc``), ``"none"`` (``alg: none``, no signature) or
  ``"hs256"`` (HMAC with the client secret).
- ``next_token_kid``: the ``kid`` header instead of the signing key's (``""`` leaves it out).
- ``next_token_reply``: ``(status, body)`` the token endpoint sends verbatim instead.

``rotate_key()`` publishes a new RSA key under a new kid and retires the old one. The
counters ``discovery_requests``, ``jwks_requests`` and ``token_requests`` and the list
``authorizations`` let tests see what the client asked for.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Final, Literal

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from litestar import Litestar, Request, Response, get, post
from litestar.response import Redirect

from modellab.server.auth.oidc import OidcConfig
from tests.server.conftest import serve

Signing = Literal["rsa", "ec", "unknown_key", "forged", "encryption_key", "none", "hs256"]


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""A ``next_token_overrides`` value that removes the claim from the ID token."""


@functools.cache
def _rsa_key(kid: str) -> rsa.RSAPrivateKey:
    # Cached per kid: RSA generation is the slow part of each test, and a fresh provider
    # per test already keeps clients from seeing each other's keys.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _ec_key(kid: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Authorization:
    """One accepted request to the authorization endpoint."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str
    code_challenge: str
    code_challenge_method: str


class OpenIdProvider:
    """The provider's registered client, keys, tampering knobs and request log."""

    def __init__(self) -> None:
        self.issuer = ""  # set by the fixture once the server listens
        self.client_id = "modellab-test-client"
        self.client_secret = secrets.token_urlsafe(32)
        self.redirect_uri = "http://127.0.0.1:9/auth/oidc/callback"
        self.subject = "user-1234"
        self.email = "Ada.Lovelace@Example.org"
        self.name: str | None = "Ada Lovelace"
        self.rsa_kid = "rsa-1"
        self.ec_kid = "ec-1"
        self.next_token_overrides: dict[str, Any] = {}
        self.next_token_signing: Signing = "rsa"
        self.next_token_kid: str | None = None
        self.next_token_reply: tuple[int, str] | None = None
        self.authorizations: list[Authorization] = []
        self.discovery_requests = 0
        self.jwks_requests = 0
        self.token_requests = 0
        self._codes: dict[str, Authorization] = {}

    def oidc_config(self, redirect_uri: str | None = None) -> OidcConfig:
        """A client configuration registered with this provider."""
        if redirect_uri is not None:
            self.redirect_uri = redirect_uri
        return OidcConfig(
            issuer=self.issuer,
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.redirect_uri,
        )

    def rotate_key(self) -> None:
        """Publish a new RSA signing key under a new kid; the old one is withdrawn."""
        number = int(self.rsa_kid.rsplit("-", 1)[1]) + 1
        self.rsa_kid = f"rsa-{number}"

    async def authorize(
        self, url: str, browser: httpx.AsyncClient | None = None
    ) -> tuple[str, str]:
        """Do the browser's part: GET the authorization URL, return (code, state) it sends back.

        Pass an open ``browser`` client to save building one per call.
        """
        if browser is None:
            async with httpx.AsyncClient() as own:
                return await self.authorize(url, own)
        response = await browser.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        location = httpx.URL(response.headers["location"])
        assert str(location.copy_with(query=None)) == self.redirect_uri
        return location.params["code"], location.params["state"]

    def jwks(self) -> dict[str, Any]:
        """The published keys: signing keys, an encryption key and a key type no client knows."""
        rsa_jwk = RSAAlgorithm.to_jwk(_rsa_key(self.rsa_kid).public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(_ec_key(self.ec_kid).public_key(), as_dict=True)
        enc_jwk = RSAAlgorithm.to_jwk(_rsa_key("enc-1").public_key(), as_dict=True)
        return {
            "keys": [
                {**rsa_jwk, "kid": self.rsa_kid, "use": "sig", "alg": "RS256"},
                {**ec_jwk, "kid": self.ec_kid, "use": "sig", "alg": "ES256"},
                # No "alg": only its "use" says it must not verify signatures.
                {**enc_jwk, "kid": "enc-1", "use": "enc"},
                {"kty": "PQC", "kid": "future-1", "use": "sig", "pub": "AAAA"},
            ]
        }

    def id_token(self, authorization: Authorization) -> str:
        """The ID token for ``authorization``, with this time's tampering applied."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": authorization.nonce,
            "email": self.email,
            "email_verified": True,
            "name": self.name,
        }
        claims.update(self.next_token_overrides)
        claims = {k: v for k, v in claims.items() if v is not DROP}
        signing, kid_override = self.next_token_signing, self.next_token_kid
        self.next_token_overrides, self.next_token_signing, self.next_token_kid = {}, "rsa", None
        key: Any
        key, alg, kid = {
            "rsa": (_rsa_key(self.rsa_kid), "RS256", self.rsa_kid),
            "ec": (_ec_key(self.ec_kid), "ES256", self.ec_kid),
            "unknown_key": (_rsa_key("unpublished"), "RS256", "unpublished"),
            "forged": (_rsa_key("forger"), "RS256", self.rsa_kid),
            "encryption_key": (_rsa_key("enc-1"), "RS256", "enc-1"),
            "hs256": (self.client_secret, "HS256", self.rsa_kid),
            "none": (None, "none", self.rsa_kid),
        }[signing]
        kid = kid if kid_override is None else kid_override
        headers = {"kid": kid} if kid else {}
        if alg != "none":
            return jwt.encode(claims, key, algorithm=alg, headers=headers)
        # Assembled by hand: PyJWT refuses to sign "none" tokens that carry a kid.
        header = {"alg": "none", "typ": "JWT", **headers}
        return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), ""])

    def app(self) -> Litestar:
        """This provider alone as a Litestar app."""
        return provider_app(lambda: self)


def provider_app(current: Callable[[], OpenIdProvider]) -> Litestar:
    """A Litestar app that serves whichever provider ``current()`` returns at request time."""

    @get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        provider = current()
        provider.discovery_requests += 1
        return {
            "issuer": provider.issuer,
            "authorization_endpoint": f"{provider.issuer}/authorize",
            "token_endpoint": f"{provider.issuer}/token",
            "jwks_uri": f"{provider.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        }

    @get("/jwks")
    async def jwks() -> dict[str, Any]:
        provider = current()
        provider.jwks_requests += 1
        return provider.jwks()

    @get("/authorize", response_model=None)
    async def authorize(request: Request[Any, Any, Any]) -> Redirect | Response[str]:
        provider = current()
        q = request.query_params
        authorization = Authorization(
            client_id=q.get("client_id", ""),
            redirect_uri=q.get("redirect_uri", ""),
            scope=q.get("scope", ""),
            state=q.get("state", ""),
            nonce=q.get("nonce", ""),
            code_challenge=q.get("code_challenge", ""),
            code_challenge_method=q.get("code_challenge_method", ""),
        )
        # Errors about the client or redirect URI must not redirect (RFC 6749 4.1.2.1).
        problems = [
            name
            for name, ok in [
                ("client_id", authorization.client_id == provider.client_id),
                ("redirect_uri", authorization.redirect_uri == provider.redirect_uri),
                ("response_type", q.get("response_type") == "code"),
                ("scope", "openid" in authorization.scope.split()),
                ("state", bool(authorization.state)),
                ("nonce", bool(authorization.nonce)),
                ("code_challenge", bool(authorization.code_challenge)),
                ("code_challenge_method", authorization.code_challenge_method == "S256"),
            ]
            if not ok
        ]
        if problems:
            return Response(f"bad authorization request: {problems}", status_code=400)
        provider.authorizations.append(authorization)
        code = secrets.token_urlsafe(24)
        provider._codes[code] = authorization
        location = httpx.URL(authorization.redirect_uri).copy_merge_params(
            {"code": code, "state": authorization.state}
        )
        return Redirect(str(location), status_code=302)

    @post("/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        provider = current()
        provider.token_requests += 1
        form = await request.form()
        if provider.next_token_reply is not None:
            status, body = provider.next_token_reply
            provider.next_token_reply = None
            return Response(body, status_code=status, media_type="application/json")
        if form.get("client_id") != provider.client_id or not hmac.compare_digest(
            str(form.get("client_secret", "")), provider.client_secret
        ):
            return Response({"error": "invalid_client"}, status_code=401)
        # Codes are single-use: a replayed code is refused like a wrong one.
        authorization = provider._codes.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        if (
            form.get("grant_type") != "authorization_code"
            or authorization is None
            or form.get("redirect_uri") != authorization.redirect_uri
            or not hmac.compare_digest(challenge, authorization.code_challenge)
        ):
            return Response({"error": "invalid_grant"}, status_code=400)
        return Response(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": authorization.scope,
                "id_token": provider.id_token(authorization),
            }
        )

    return Litestar([discovery, jwks, authorize, token])


class _Server:
    """One uvicorn server per test session; each test plugs its own provider into it."""

    def __init__(self, stack: ExitStack) -> None:
        self.current = OpenIdProvider()
        self.url = stack.enter_context(serve(provider_app(lambda: self.current)))


_SERVER = pytest.StashKey[_Server]()


@pytest.fixture
def openid_provider(request: pytest.FixtureRequest) -> OpenIdProvider:
    """A fresh OpenID provider on a loopback port; see the module docstring.

    The server starts once per session (starting uvicorn per test is most of a test's
    time); every test still gets a provider with its own client secret, codes, counters
    and knobs, and clients built in a test never outlive it.
    """
    server = request.config.stash.get(_SERVER, None)
    if server is None:
        stack = ExitStack()
        request.config.add_cleanup(stack.close)
        server = request.config.stash[_SERVER] = _Server(stack)
    provider = OpenIdProvider()
    provider.issuer = server.url
    server.current = provider
    return provider
