"""Sign-in: sessions, magic links, OpenID Connect, API tokens and the request's user."""
