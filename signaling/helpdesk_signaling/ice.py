"""ICE servers for RTCPeerConnection: STUN as given, TURN with coturn's time-limited REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any


def turn_credentials(secret: str, user: str, expires_at: int) -> tuple[str, str]:
    """coturn `use-auth-secret`: username "<unix-expiry>:<user>", credential base64(HMAC-SHA1)."""
    username = f"{int(expires_at)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(*, stun_urls: Sequence[str], turn_urls: Sequence[str], turn_secret: str | None,
                ttl_s: int, user: str, now: float) -> list[dict[str, Any]]:
    """RTCIceServer dicts; TURN is left out when no secret is configured (no static passwords)."""
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and turn_secret:
        username, credential = turn_credentials(turn_secret, user, int(now) + ttl_s)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
