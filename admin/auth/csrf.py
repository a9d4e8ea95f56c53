"""CSRF protection: a random token per session, checked on every state-changing request.

The token lives in the signed session cookie (so a forged cross-site request, which cannot read
our pages, cannot know it). Forms send it as the hidden `csrf_token` field, the console's
fetch() calls as the `X-CSRF-Token` header. A request without the right token is refused with
403 before the view runs. The login and setup forms are covered too (login CSRF), so the token
exists before anyone is logged in; `start_session` replaces it at login.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session
from flask_babel import gettext as _

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "csrf"
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token() -> str:
    """This session's token (made on first use)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        session[SESSION_KEY] = token
    return token


def csrf_token_is_valid() -> bool:
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        # request.form is only parsed for form bodies; a JSON body carries the header instead.
        sent = request.form.get(CSRF_FIELD)
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


def check_csrf() -> None:
    """Abort with 403 unless a state-changing request carries this session's token."""
    if request.method in STATE_CHANGING_METHODS and not csrf_token_is_valid():
        abort(403, description=_("The form expired or did not come from this console (CSRF token missing or wrong). Reload the page and try again."))
