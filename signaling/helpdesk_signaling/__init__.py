"""Signaling for one-to-one WebRTC calls: typed protocol, WebSocket endpoint, room hub, ICE servers."""

from helpdesk_signaling.endpoint import AppHandler, SignalingEndpoint, SocketConnection
from helpdesk_signaling.errors import ERROR_CODES, ProtocolError, SignalingError
from helpdesk_signaling.hub import Connection, ExpiredRoom, Hub, MemoryHub, Room
from helpdesk_signaling.ice import ice_servers, turn_credentials
from helpdesk_signaling.redis_hub import RedisHub

__all__ = [
    "ERROR_CODES", "AppHandler", "Connection", "ExpiredRoom", "Hub", "MemoryHub", "ProtocolError", "RedisHub",
    "Room", "SignalingEndpoint", "SignalingError", "SocketConnection", "ice_servers", "turn_credentials",
]
