"""Signing in through the UI, and out: by a magic link mailed to a real SMTP server, and
with Google's flow against an OpenID provider started here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modellab.server.app import create_app
from tests.server.conftest import QueueOnly, free_port, make_settings, serve
from tests.server.oidc_provider import (
    OpenIdProvider,
    openid_provider,  # noqa: F401  (a fixture)
)
from tests.server.test_magic_link import Inbox, smtp  # noqa: F401  (a fixture)
from tests.web.test_browser import Watched, browser  # noqa: F401  (a fixture)


@pytest.fixture
def signed_server(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[tuple[str, Inbox]]:  # noqa: F811
    inbox, smtp_port = smtp
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}",
        public_url=url,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        mail_from="ModelLab <signin@example.com>",
        sign_up_domains=("example.com",),
        # Google is offered too; this test only checks that the page says so.
        oidc_client_id="client",
        oidc_client_secret="secret",
    )
    with serve(create_app(settings, executor=QueueOnly), port=port) as served:
        assert served == url
        yield url, inbox


def test_sign_in_by_magic_link_and_out_again(
    browser: Any,  # noqa: F811
    signed_server: tuple[str, Inbox],
    tmp_path: Path,
) -> None:
    url, inbox = signed_server
    ui = Watched(browser, url, tmp_path / "screenshots")
    page = ui.page
    try:
        # Signed out, the projects page sends people to sign in.
        ui.go("/")
        page.get_by_role("heading", name="Sign in to ModelLab").wait_for()
        ui.expect_refused(401)
        ui.expect_refused(401)  # /api/auth/me, asked by the header
        google = page.get_by_role("link", name="Sign in with Google")
        assert google.get_attribute("href") == "/auth/google/start"
        ui.shot("sign-in")
        page.get_by_label("Email address").fill("ada@example.com")
        page.get_by_role("button", name="Email me a sign-in link").click()
        page.get_by_text("a link is on its way").wait_for()

        link, _ = inbox.link("ada@example.com")
        assert link.startswith(f"{url}/auth/magic-link#token=")
        page.goto(link)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Projects").wait_for()
        page.get_by_text("ada@example.com").wait_for()
        page.get_by_label("New project name").fill("Ada's lab")
        page.get_by_role("button", name="Create project").click()
        page.get_by_role("heading", name="Ada's lab").wait_for()

        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in to ModelLab").wait_for()
        ui.go("/")
        page.get_by_role("heading", name="Sign in to ModelLab").wait_for()
        while any("401" in e for e in ui.errors):
            ui.expect_refused(401)
        assert ui.errors == [], (ui.errors, ui.refused)
        assert ui.dialogs == []
    finally:
        ui.context.close()


def test_sign_in_with_google_in_the_browser(
    browser: Any,  # noqa: F811
    openid_provider: OpenIdProvider,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The whole redirect dance in a real browser: app, provider, callback, session."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    openid_provider.redirect_uri = f"{url}/auth/google/callback"
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'modellab.db'}",
        public_url=url,
        oidc_issuer=openid_provider.issuer,
        oidc_client_id=openid_provider.client_id,
        oidc_client_secret=openid_provider.client_secret,
        sign_up_domains=("*",),
    )
    with serve(create_app(settings, executor=QueueOnly), port=port):
        ui = Watched(browser, url, tmp_path / "screenshots")
        page = ui.page
        try:
            ui.go("/sign-in")
            page.get_by_role("link", name="Sign in with Google").click()
            # Back from the provider, signed in as the address its ID token vouched for.
            page.get_by_role("heading", name="Projects").wait_for()
            page.get_by_text("ada.lovelace@example.org", exact=False).wait_for()
            assert len(openid_provider.authorizations) == 1
            assert openid_provider.token_requests == 1
            page.get_by_label("New project name").fill("Ada's lab")
            page.get_by_role("button", name="Create project").click()
            page.get_by_role("heading", name="Ada's lab").wait_for()
            page.get_by_role("button", name="Sign out").click()
            page.get_by_role("heading", name="Sign in to ModelLab").wait_for()
            while any("401" in e for e in ui.errors):
                ui.expect_refused(401)
            assert ui.errors == [], (ui.errors, ui.refused)
        finally:
            ui.context.close()
