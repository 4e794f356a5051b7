"""CSRF protection for cookie-authenticated state changes (double submit of a signed token).

Every response sets a signed `hd_csrf` cookie (readable by our scripts) when the browser has none,
so a page is always loaded with one. Every POST/PUT/PATCH/DELETE must echo it in the X-CSRF-Token
header, with or without a session cookie: the cookie-less ones are exactly the requests that *start*
a session (staff login, the applicant's first POST /api/help/session), and a cross-site page must not
be able to log a victim into a session of the attacker's choosing (login CSRF). Only the Bearer
API-token routes are exempt: they carry no cookies.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk.errors import error_body
from helpdesk.security import CSRF_COOKIE, CSRF_HEADER, Signer

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EXEMPT_PREFIXES = ("/api/integrations/", "/api/v1/")  # Bearer-token routes: no cookies are read there


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, signer: Signer, secure: bool) -> None:
        self.app = app
        self.signer = signer
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        jar = SimpleCookie(headers.get("cookie", ""))
        cookie_token = jar[CSRF_COOKIE].value if CSRF_COOKIE in jar else ""
        path: str = scope.get("path", "")
        if scope["method"] in UNSAFE and not path.startswith(EXEMPT_PREFIXES):
            header_token = headers.get(CSRF_HEADER, "")
            ok = (
                bool(cookie_token)
                and self.signer.csrf_token_valid(cookie_token)
                and hmac.compare_digest(cookie_token, header_token)
            )
            if not ok:
                await _reject(send)
                return
        needs_cookie = not (cookie_token and self.signer.csrf_token_valid(cookie_token))
        new_token = self.signer.new_csrf_token() if needs_cookie else ""
        # The page rendered by this very response (the help page) can carry the token it sets.
        scope.setdefault("state", {})["csrf_token"] = new_token or cookie_token

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new_token:
                attrs = f"{CSRF_COOKIE}={new_token}; Path=/; SameSite=Strict"
                if self.secure:
                    attrs += "; Secure"
                message.setdefault("headers", []).append((b"set-cookie", attrs.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _reject(send: Send) -> None:
    import json

    body = json.dumps(error_body("csrf_failed", "missing or wrong X-CSRF-Token header")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
