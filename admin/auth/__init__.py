"""Who is asking: console sessions, API tokens, CSRF and the security headers of every answer.

- `current_actor()` is the `Actor` of this request (session cookie or `Authorization: Bearer
  <token>`), or None; `require_actor` guards a view with it (a redirect to the login page for the
  console, a 401 JSON answer for the API).
- Sessions (sessions.py) are signed cookies carrying the user id, a random session id recorded
  on the server (services/console_sessions.py), the user's `session_version`, the login time and
  the last use; they end after `session_lifetime_minutes` idle, `session_max_age_hours` after
  login, and at once at logout (the server-side record is deleted) or when the session version
  moves (password or role change).
- CSRF (csrf.py): one random token per session, required on every POST/PUT/PATCH/DELETE made
  with the session cookie, as the `csrf_token` form field or the `X-CSRF-Token` header.

Passwords, throttling and tokens themselves are the services' (services/users.py,
login_throttle.py, api_tokens.py, setup_code.py): a rule is written once.
"""

from __future__ import annotations

from .actors import current_actor, require_actor, require_admin
from .csrf import CSRF_FIELD, CSRF_HEADER, csrf_token
from .sessions import end_session, logout, start_session

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "csrf_token",
    "current_actor",
    "end_session",
    "logout",
    "require_actor",
    "require_admin",
    "start_session",
]
