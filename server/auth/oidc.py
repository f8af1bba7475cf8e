"""OpenID Connect sign-in: authorization code flow with PKCE, for Google or any compliant provider.

``OidcClient.start`` builds the URL to send the browser to and the ``PendingSignIn`` the
server keeps until the callback; ``OidcClient.finish`` checks the callback's ``state``,
exchanges the ``code`` at the token endpoint and verifies the ID token it gets back. Only
``code`` and ``state`` come from the browser: everything else is either kept by the server
(``PendingSignIn``) or fetched from the provider over a back channel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import jwt

GOOGLE_ISSUER = "https://accounts.google.com"

# Google documents that its ID tokens may carry either spelling of its issuer.
_ISSUER_ALIASES: dict[str, tuple[str, ...]] = {GOOGLE_ISSUER: ("accounts.google.com",)}

# Symmetric algorithms would let anyone holding the client secret mint tokens, and
# "none" lets anyone at all: only public-key signatures prove the provider spoke.
ALLOWED_ALGORITHMS = ("RS256", "ES256")

_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]
_DEFAULT_TIMEOUT = httpx.Timeout(10.0)

OidcReason = Literal[
    "discovery",
    "state",
    "token_exchange",
    "signature",
    "issuer",
    "audience",
    "expired",
    "nonce",
    "email_unverified",
    "no_email",
    "malformed",
]


class OidcError(Exception):
    """Sign-in refused.

    ``reason`` is a short stable code, ``str(exc)`` a sentence a person can act on.
    """

    def __init__(self, reason: OidcReason, message: str) -> None:
        super().__init__(message)
        self.reason: OidcReason = reason


@dataclass(frozen=True)
class OidcConfig:
    """A client registered with one OpenID provider."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")

    def __post_init__(self) -> None:
        # Without the openid scope the provider runs plain OAuth and sends no ID token.
        if "openid" not in self.scopes:
            raise ValueError("OidcConfig.scopes must include 'openid'")


@dataclass(frozen=True)
class PendingSignIn:
    """What the server keeps between redirect and callback.

    The caller stores it server-side or in a signed cookie: never trust it from the browser
    unsigned.
    """

    state: str
    nonce: str
    code_verifier: str
    created_at: float


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who signed in, as vouched for by the provider's signed ID token."""

    issuer: str
    subject: str
    email: str
    name: str | None


@dataclass(frozen=True)
class _Metadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def code_challenge(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(a: str, b: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str and the request's value may be anything.
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class OidcClient:
    """Signs people in with one OpenID provider; caches its metadata and signing keys."""

    def __init__(
        self,
        config: OidcConfig,
        http: httpx.AsyncClient | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        self.config = config
        self._http = http
        self._leeway = leeway_seconds
        self._metadata: _Metadata | None = None
        self._keys: dict[str, jwt.PyJWK] | None = None

    async def start(self) -> tuple[str, PendingSignIn]:
        """The authorization URL to redirect the browser to, and the pending sign-in to keep.

        The URL carries response_type=code, client_id, redirect_uri, scope, state, nonce and
        an S256 PKCE code_challenge.
        """
        metadata = await self._discover()
        pending = PendingSignIn(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            # 48 random bytes are 64 base64url characters, within PKCE's 43..128.
            code_verifier=secrets.token_urlsafe(48),
            created_at=time.time(),
        )
        url = httpx.URL(metadata.authorization_endpoint).copy_merge_params(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": code_challenge(pending.code_verifier),
                "code_challenge_method": "S256",
            }
        )
        return str(url), pending

    async def finish(
        self,
        *,
        code: str,
        state: str,
        pending: PendingSignIn,
        max_age_seconds: int = 600,
    ) -> VerifiedIdentity:
        """Complete a sign-in from the callback's ``code`` and ``state``.

        Checks ``state`` against ``pending`` (constant time; older than ``max_age_seconds`` is
        refused too), exchanges the code at the token endpoint (client_secret_post, with the
        PKCE code_verifier), verifies the ID token and returns who signed in. Raises
        ``OidcError`` on any refusal.
        """
        if not _same(state, pending.state):
            raise OidcError(
                "state",
                "The sign-in response does not match the sign-in this browser started; "
                "start signing in again.",
            )
        age = time.time() - pending.created_at
        if not -self._leeway <= age <= max_age_seconds:
            raise OidcError(
                "state", "The sign-in took too long and expired; start signing in again."
            )
        id_token = await self._exchange(code, pending.code_verifier)
        return await self._verify(id_token, pending.nonce)

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        # A client of our own lives only for one request, so nothing is left open.
        async with httpx.AsyncClient(timeout=_DEFAULT_TIMEOUT) as client:
            yield client

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(
                "discovery", f"Could not read the sign-in provider's {what} at {url}: {exc}"
            ) from exc
        if not isinstance(body, dict):
            raise OidcError(
                "discovery", f"The sign-in provider's {what} at {url} is not an object."
            )
        return body

    async def _discover(self) -> _Metadata:
        # Only success is cached, so a provider that was briefly down is retried next time.
        if self._metadata is not None:
            return self._metadata
        issuer = self.config.issuer
        url = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        document = await self._get_json(url, "discovery document")
        # An exact match stops a document served elsewhere from naming a different issuer.
        if document.get("issuer") != issuer:
            raise OidcError(
                "discovery",
                f"The discovery document at {url} names issuer {document.get('issuer')!r}, "
                f"not the configured {issuer!r}; check the configured issuer.",
            )
        fields = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or not value:
                raise OidcError("discovery", f"The discovery document at {url} has no {name}.")
            fields[name] = value
        self._metadata = _Metadata(**fields)
        return self._metadata

    async def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        metadata = await self._discover()
        document = await self._get_json(metadata.jwks_uri, "signing keys")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise OidcError("discovery", f"The signing keys at {metadata.jwks_uri} list no keys.")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            # Tokens are matched to keys by kid alone; a key meant for encryption never
            # vouches for a signature.
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str):
                continue
            try:
                # PyJWK binds each key to one algorithm and jwt.decode enforces it, so a key
                # of a refused algorithm can never match a token that passed the alg check.
                keys[kid] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                # Providers may publish key types this client cannot use; the rest still count.
                continue
        self._keys = keys
        return keys

    async def _key_for(self, header: dict[str, Any]) -> jwt.PyJWK:
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else ""
        fresh = self._keys is None
        keys = await self._fetch_keys() if self._keys is None else self._keys
        if kid not in keys and not fresh:
            # An unknown kid usually means the provider rotated its keys since we cached them.
            keys = await self._fetch_keys()
        if kid not in keys:
            raise OidcError(
                "signature",
                "The sign-in provider signed the ID token with a key it does not publish.",
            )
        return keys[kid]

    async def _exchange(self, code: str, code_verifier: str) -> str:
        metadata = await self._discover()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "code_verifier": code_verifier,
        }
        try:
            async with self._client() as client:
                response = await client.post(
                    metadata.token_endpoint, data=form, headers={"Accept": "application/json"}
                )
        except httpx.HTTPError as exc:
            raise OidcError(
                "token_exchange", f"Could not reach the sign-in provider's token endpoint: {exc}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            raise OidcError(
                "token_exchange",
                f"The sign-in provider refused the sign-in code (HTTP {response.status_code}"
                f"{', ' + str(error) if error else ''}); start signing in again.",
            )
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise OidcError(
                "token_exchange", "The sign-in provider's token response carries no ID token."
            )
        return id_token

    async def _verify(self, id_token: str, nonce: str) -> VerifiedIdentity:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise OidcError("malformed", f"The ID token is not a valid JWT: {exc}") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise OidcError(
                "signature", f"The ID token is signed with {alg!r}, which this server refuses."
            )
        key = await self._key_for(header)
        issuer = self.config.issuer
        try:
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=[str(alg)],
                audience=self.config.client_id,
                issuer=(issuer, *_ISSUER_ALIASES.get(issuer, ())),
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as exc:
            raise OidcError(
                "signature", f"The ID token's signature does not verify: {exc}"
            ) from exc
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
            raise OidcError(
                "expired", f"The ID token is outside its validity window ({exc}); check the clock."
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise OidcError("issuer", f"The ID token was not issued by {issuer}.") from exc
        except jwt.InvalidAudienceError as exc:
            raise OidcError("audience", "The ID token was issued to another application.") from exc
        except jwt.PyJWTError as exc:
            raise OidcError("malformed", f"The ID token is malformed: {exc}") from exc
        return self._identity(claims, nonce)

    def _identity(self, claims: dict[str, Any], nonce: str) -> VerifiedIdentity:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        # OIDC Core 3.1.3.7: with several audiences, azp says which one the token is for.
        if (azp is not None or len(audiences) > 1) and azp != self.config.client_id:
            raise OidcError("audience", "The ID token was issued to another application.")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not _same(token_nonce, nonce):
            raise OidcError(
                "nonce", "The ID token belongs to a different sign-in; start signing in again."
            )
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise OidcError("malformed", "The ID token names no subject.")
        email = claims.get("email")
        if not isinstance(email, str) or not email.strip():
            raise OidcError(
                "no_email",
                "The sign-in provider did not share an email address; allow access to it.",
            )
        if claims.get("email_verified") is not True:
            raise OidcError(
                "email_unverified",
                f"The email address {email} is not verified with the sign-in provider; "
                "verify it there first.",
            )
        name = claims.get("name")
        return VerifiedIdentity(
            issuer=self.config.issuer,
            subject=subject,
            email=email.strip().lower(),
            name=name if isinstance(name, str) and name else None,
        )
