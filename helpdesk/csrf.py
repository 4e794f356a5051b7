"""CSRF protection for cookie-authenticated state changes (double submit of a signed token).

Every page load gets a signed `hd_csrf` cookie readable by our scripts; a POST/PUT/PATCH/DELETE
that carries a session cookie must echo it in the X-CSRF-Token header. Requests authenticated by
a Bearer API token carry no cookies and need no CSRF token.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk.errors import error_body
from helpdesk.security import APPLICANT_COOKIE, CSRF_COOKIE, CSRF_HEADER, STAFF_COOKIE, Signer

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EXEMPT_PREFIXES = ("/api/integrations/",)  # Bearer-token routes


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
            has_session = STAFF_COOKIE in jar or APPLICANT_COOKIE in jar or path.endswith("/login")
            header_token = headers.get(CSRF_HEADER, "")
            ok = (
                bool(cookie_token)
                and self.signer.csrf_token_valid(cookie_token)
                and hmac.compare_digest(cookie_token, header_token)
            )
            if has_session and not ok:
                await _reject(send)
                return
        needs_cookie = not (cookie_token and self.signer.csrf_token_valid(cookie_token))
        new_token = self.signer.new_csrf_token() if needs_cookie else ""

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
