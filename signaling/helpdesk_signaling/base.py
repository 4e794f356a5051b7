"""Shared pieces of the protocol: ids, the two message bases, SDP and ICE candidate shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_SDP = 32 * 1024


def _int_to_str(v: Any) -> Any:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


Id = Annotated[str, BeforeValidator(_int_to_str), Field(min_length=1, max_length=64)]
Member = Annotated[str, Field(min_length=1, max_length=80)]
Role = Literal["applicant", "agent", "supervisor", "admin"]


class Msg(BaseModel):
    """Base of every message: unknown fields are a client mistake, never silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SessionDescription(Msg):
    type: Literal["offer", "answer", "rollback"]
    sdp: str = Field("", max_length=MAX_SDP)


class IceCandidate(Msg):
    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(None, max_length=64)  # the browser's RTCIceCandidateInit names
    sdpMLineIndex: int | None = Field(None, ge=0, le=1024)
    usernameFragment: str | None = Field(None, max_length=256)


class Out(BaseModel):
    """Base of server messages; free-form payloads are the dict fields (peer, context, file)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
