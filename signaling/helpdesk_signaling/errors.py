"""Errors that become a typed `error` message on the socket (the socket itself stays open)."""

from __future__ import annotations

from typing import Final

ERROR_CODES: Final = (
    "bad_json", "unknown_type", "invalid_message", "too_large", "not_in_room",
    "forbidden", "not_found", "conflict", "unavailable", "internal",
)


class SignalingError(Exception):
    """Raised by the hub, the endpoint or the app's handler; answered as `{"type":"error",...}`."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.ref = ref


class ProtocolError(SignalingError):
    """The client's message could not be read: bad_json, unknown_type, invalid_message, too_large."""
