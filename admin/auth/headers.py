"""Security headers on every answer of the admin, and the session cookie's flags.

The console loads only its own CSS and JS (no inline scripts or styles, no CDN), so the
Content-Security-Policy can be strict; the console's charts are inline SVG, which needs no
image source. Framing is refused (clickjacking), MIME sniffing is off.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response

from ..config import Config

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        # Pages show per-user data: never keep them in shared caches or the back/forward cache.
        headers.setdefault("Cache-Control", "no-store")
    return response


def configure_session_cookie(app: Flask, config: Config) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="shardcron_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.session_cookie_secure,
        # The browser may drop the cookie after the absolute lifetime; the server checks both
        # limits itself (sessions.py) with the injected clock.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_max_age_hours),
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.after_request(add_security_headers)
