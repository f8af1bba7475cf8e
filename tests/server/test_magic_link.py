"""Magic-link sign-in end to end, with real mail through an SMTP server started here."""

from __future__ import annotations

import asyncio
import email
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from modellab.access.secrets import digest
from modellab.errors import NotAuthenticatedError
from modellab.server.auth.magic_link import redeem_link
from modellab.server.auth.sessions import COOKIE
from modellab.store.database import open_database
from modellab.store.models import MagicLinkRow, utcnow
from tests.server.conftest import Api, QueueOnly, free_port

PUBLIC_URL = "http://testserver.local"
LINK = re.compile(r"(http\S+/auth/magic-link#token=(\S+))")


class Inbox:
    """Messages an SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def link(self, to: str, after: int = 0, timeout: float = 10.0) -> tuple[str, str]:
        """The newest sign-in link mailed to ``to`` (waits for it): (url, token)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages[after:]):
                if message["To"] == to:
                    body = message.get_payload(decode=True)
                    assert isinstance(body, bytes)
                    m = LINK.search(body.decode())
                    assert m is not None, body
                    return m[1], m[2]
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to}")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a loopback port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def mail_api(api_factory: Callable[..., Api], smtp: tuple[Inbox, int]) -> tuple[Api, Inbox]:
    inbox, port = smtp
    api = api_factory(
        QueueOnly,
        public_url=PUBLIC_URL,
        smtp_url=f"smtp://127.0.0.1:{port}",
        mail_from="ModelLab <signin@example.com>",
        sign_up_domains=("example.com",),
    )
    return api, inbox


def _sign_in(api: Api, inbox: Inbox, address: str) -> str:
    """Ask for a link, open it, press the button; return the session cookie."""
    before = len(inbox.messages)
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": address})
    url, token = inbox.link(address, after=before)
    page = api.client.get(url.removeprefix(PUBLIC_URL))
    assert page.status_code == 200 and "<button" in page.text
    response = api.client.post(
        "/auth/magic-link",
        data={"token": token},
        headers={"Origin": PUBLIC_URL},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    cookie = response.cookies.get(COOKIE)
    assert cookie
    api.client.cookies.clear()
    return cookie


def test_sign_in_by_magic_link_end_to_end(mail_api: tuple[Api, Inbox]) -> None:
    api, inbox = mail_api
    # A request addressed to another host name is not answered at all.
    foreign = api.client.post(
        "/api/auth/magic-link",
        json={"email": "Ada@Example.com"},
        headers={"Host": "evil.example"},
    )
    assert foreign.status_code == 400 and "evil.example" in foreign.json()["detail"]
    assert inbox.messages == []
    answer = api.client.post("/api/auth/magic-link", json={"email": "Ada@Example.com"})
    assert answer.status_code == 202
    url, token = inbox.link("ada@example.com")
    # From the public URL, the token in the fragment, which browsers never send.
    assert url.startswith(f"{PUBLIC_URL}/auth/magic-link#token=")
    assert len(token) >= 43  # 32 random bytes
    message = inbox.messages[-1]
    assert message["From"] == "ModelLab <signin@example.com>"

    # A mail scanner opening the link does not use it up.
    for _ in range(2):
        page = api.client.get(url.removeprefix(PUBLIC_URL))
        assert page.status_code == 200
        assert 'method="post"' in page.text and token not in page.text
    response = api.client.post(
        "/auth/magic-link",
        data={"token": token},
        headers={"Origin": PUBLIC_URL},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie.replace("Lax", "lax")
    assert "Secure" not in set_cookie  # http here; see the https test
    cookie = response.cookies[COOKIE]
    api.client.cookies.clear()
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    assert api.client.get("/api/auth/me", headers=headers).json()["email"] == "ada@example.com"

    # The token is stored only as its hash.
    async def stored() -> list[str]:
        async with open_database(api.settings.database_url) as db, db.session() as s:
            return list(await s.scalars(select(MagicLinkRow.token_hash)))

    hashes = asyncio.run(stored())
    assert digest(token) in hashes and token not in hashes

    # Used once: a replay is refused.
    replay = api.client.post(
        "/auth/magic-link", data={"token": token}, headers={"Origin": PUBLIC_URL}
    )
    assert replay.status_code == 401


def test_known_and_unknown_addresses_get_the_same_answer(mail_api: tuple[Api, Inbox]) -> None:
    api, inbox = mail_api
    _sign_in(api, inbox, "known@example.com")
    known = api.client.post("/api/auth/magic-link", json={"email": "known@example.com"})
    unknown = api.client.post("/api/auth/magic-link", json={"email": "stranger@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert known.headers.get("content-type") == unknown.headers.get("content-type")


def test_a_new_link_revokes_the_older_one_and_links_expire(mail_api: tuple[Api, Inbox]) -> None:
    api, inbox = mail_api
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "bo@example.com"})
    _, first = inbox.link("bo@example.com")
    n = len(inbox.messages)
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "bo@example.com"})
    _, second = inbox.link("bo@example.com", after=n)
    assert first != second

    def post(token: str) -> int:
        return api.client.post(
            "/auth/magic-link",
            data={"token": token},
            headers={"Origin": PUBLIC_URL},
            follow_redirects=False,
        ).status_code

    assert post(first) == 401

    async def expire() -> None:
        async with open_database(api.settings.database_url) as db, db.session() as s:
            await s.execute(update(MagicLinkRow).values(expires_at=utcnow() - timedelta(seconds=1)))

    asyncio.run(expire())
    assert post(second) == 401
    assert post("forged-" + second) == 401


def test_two_concurrent_redemptions_give_one_session(mail_api: tuple[Api, Inbox]) -> None:
    api, inbox = mail_api
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "cy@example.com"})
    _, token = inbox.link("cy@example.com")

    async def race() -> list[Any]:
        async with open_database(api.settings.database_url) as db:
            return await asyncio.gather(
                *(redeem_link(db, api.settings, token) for _ in range(8)),
                return_exceptions=True,
            )

    results = asyncio.run(race())
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, NotAuthenticatedError) for r in results if r not in winners)


def test_sessions_need_origin_for_changes_and_end_at_sign_out(
    mail_api: tuple[Api, Inbox],
) -> None:
    api, inbox = mail_api
    cookie = _sign_in(api, inbox, "di@example.com")
    again = _sign_in(api, inbox, "di@example.com")
    assert cookie != again  # a fresh session id at every sign-in
    jar = {"Cookie": f"{COOKIE}={cookie}"}
    cross = api.client.post("/api/projects", json={"name": "x"}, headers=jar)
    assert cross.status_code == 403  # no Origin
    evil = {**jar, "Origin": "https://evil.example"}
    assert api.client.post("/api/projects", json={"name": "x"}, headers=evil).status_code == 403
    same = {**jar, "Origin": PUBLIC_URL}
    assert api.client.post("/api/projects", json={"name": "x"}, headers=same).status_code == 201
    out = api.client.post("/api/auth/sign-out", headers=same)
    assert out.status_code == 204
    assert api.client.get("/api/projects", headers=jar).status_code == 401
    # the other session is untouched
    assert api.client.get("/api/projects", headers={"Cookie": f"{COOKIE}={again}"}).is_success


def test_sign_in_requests_are_rate_limited(mail_api: tuple[Api, Inbox]) -> None:
    api, _ = mail_api
    codes = [
        api.client.post("/api/auth/magic-link", json={"email": "eve@example.com"}).status_code
        for _ in range(6)
    ]
    assert codes == [202] * 5 + [429]
    limited = api.client.post("/api/auth/magic-link", json={"email": "eve@example.com"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"].startswith("application/problem+json")


def test_cookies_are_secure_under_https(
    api_factory: Callable[..., Api], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    api = api_factory(
        QueueOnly,
        public_url="https://testserver.local",
        smtp_url=f"smtp://127.0.0.1:{port}",
        sign_up_domains=("example.com",),
    )
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "fay@example.com"})
    _, token = inbox.link("fay@example.com")
    response = api.client.post(
        "/auth/magic-link",
        data={"token": token},
        headers={"Origin": "https://testserver.local"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_without_smtp_the_mail_goes_to_an_owner_only_outbox_not_the_log(
    api_factory: Callable[..., Api],
) -> None:
    lines: list[str] = []
    collect = logging.Handler()
    collect.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("modellab.server").addHandler(collect)
    api = api_factory(QueueOnly, public_url=PUBLIC_URL, sign_up_domains=("*",))
    api.ok("POST", "/api/auth/magic-link", 202, json={"email": "gil@example.com"})
    outbox = api.settings.home / "outbox"
    deadline = time.monotonic() + 10
    while not list(outbox.glob("*.eml")):
        assert time.monotonic() < deadline, "no mail in the outbox"
        time.sleep(0.05)
    (saved,) = outbox.glob("*.eml")
    assert saved.stat().st_mode & 0o777 == 0o600
    assert outbox.stat().st_mode & 0o777 == 0o700
    body = email.message_from_bytes(saved.read_bytes()).get_payload(decode=True)
    assert isinstance(body, bytes)
    m = LINK.search(body.decode())
    assert m is not None and m[1].startswith(f"{PUBLIC_URL}/auth/magic-link#token=")
    while not any(str(saved) in line for line in lines):  # logged just after writing
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)
    logging.getLogger("modellab.server").removeHandler(collect)
    log = "\n".join(lines)
    assert "gil@example.com" in log and str(saved) in log
    assert m[2] not in log
