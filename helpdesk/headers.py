"""Security headers on every response: no MIME sniffing, no referrer leaving the site (the help page's
URL may carry a hand-off token), and for our HTML pages (/help, /console/) a Content-Security-Policy.

The page policy allows our own scripts only (ES modules, no inline script), inline styles (the KB's
sanitised HTML and a few style attributes), data:/blob: images, camera and screen streams
(mediastream:/blob:) and same-origin fetch/WebSocket ('self' covers ws(s):// of our own host).
Framing follows `settings.frame_ancestors` (default 'self'; the provincial app's web-view origin can
be added). A response that already sets its own policy (files served with `sandbox`) keeps it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self' data:; frame-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'"
)
# FastAPI's /docs and /redoc load Swagger UI / ReDoc from a CDN with an inline script: framing only.
THIRD_PARTY_PAGES = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, frame_ancestors: list[str]) -> None:
        self.app = app
        ancestors = " ".join(frame_ancestors) or "'none'"
        self.frame_ancestors = f"frame-ancestors {ancestors}"
        # X-Frame-Options (older browsers) cannot name other origins: only for 'self' or 'none'.
        self.x_frame = {"'self'": b"SAMEORIGIN", "'none'": b"DENY"}.get(ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = message.setdefault("headers", [])
                present = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in present:
                    headers.append((b"referrer-policy", b"same-origin"))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html") and b"content-security-policy" not in present:
                    third_party = path.startswith(THIRD_PARTY_PAGES)
                    csp = self.frame_ancestors if third_party else f"{PAGE_CSP}; {self.frame_ancestors}"
                    headers.append((b"content-security-policy", csp.encode()))
                    if self.x_frame and b"x-frame-options" not in present:
                        headers.append((b"x-frame-options", self.x_frame))
            await send(message)

        await self.app(scope, receive, send_with_headers)
