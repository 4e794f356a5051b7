"""TURN with Debian's coturn on loopback (../shared/FIELD-NOTES.md): the app's time-limited credentials
(GET /api/ice-servers) allocate a relay and carry a relay-only call between two Chromium pages; expired
or forged credentials are refused with 401."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import random
import secrets
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpdesk_signaling.ice import turn_credentials

from helpdesk.config import Settings
from tests.conftest import require_service
from tests.helpdesk.factories import PASSWORD
from tests.journey.browser import chromium
from tests.journey.live import Live, live_app

REALM = "helpdesk.test"


@dataclass
class Turn:
    port: int
    secret: str
    log: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def free_udp_port() -> int:
    """A port free for UDP and for TCP too (coturn listens on both: a taken TCP port makes it retry)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@pytest.fixture
def turnserver(tmp_path: Path) -> Iterator[Turn]:
    """coturn on 127.0.0.1 with a REST shared secret and a small relay port range; killed afterwards."""
    binary = shutil.which("turnserver")
    require_service("coturn (turnserver)", binary is not None)
    assert binary is not None
    port, secret = free_udp_port(), secrets.token_urlsafe(24)
    low = random.randrange(50000, 59000, 50)  # 40 relay ports: parallel runs rarely collide
    log = tmp_path / "turnserver.log"
    cmd = [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
           f"--min-port={low}", f"--max-port={low + 39}", "--use-auth-secret", f"--static-auth-secret={secret}",
           f"--realm={REALM}", "--no-tls", "--no-dtls", "--no-cli", "--no-tcp-relay", "--allow-loopback-peers",
           "--fingerprint", f"--userdb={tmp_path / 'turndb'}", f"--pidfile={tmp_path / 'turnserver.pid'}",
           f"--log-file={log}", "--simple-log", "--no-stdout-log"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    turn = Turn(port, secret, log)
    try:
        end = time.monotonic() + 10
        while stun_binding(port) is None:  # answers STUN once it listens
            assert proc.poll() is None, f"turnserver exited: {tail(log)}"
            assert time.monotonic() < end, f"turnserver did not answer: {tail(log)}"
            time.sleep(0.1)
        yield turn
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(10)


def tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# ---- a minimal STUN/TURN client (RFC 5389 / 5766): Allocate with long-term credentials ------------
MAGIC = 0x2112A442
ALLOCATE, BINDING = 0x0003, 0x0001
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM_ATTR, NONCE, REQUESTED_TRANSPORT = (
    0x0006, 0x0008, 0x0009, 0x0014, 0x0015, 0x0019)
XOR_RELAYED_ADDRESS = 0x0016


def attr(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\x00" * (-len(value) % 4)


def message(kind: int, attrs: bytes, key: bytes | None = None) -> bytes:
    tid = secrets.token_bytes(12)
    if key is None:
        return struct.pack("!HHI", kind, len(attrs), MAGIC) + tid + attrs
    # MESSAGE-INTEGRITY covers the header with the length counting the MI attribute itself.
    header = struct.pack("!HHI", kind, len(attrs) + 24, MAGIC) + tid
    mac = hmac.new(key, header + attrs, hashlib.sha1).digest()
    return header + attrs + attr(MESSAGE_INTEGRITY, mac)


def parse(data: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length, _ = struct.unpack("!HHI", data[:8])
    attrs: dict[int, bytes] = {}
    pos = 20
    while pos + 4 <= 20 + length:
        a_kind, a_len = struct.unpack("!HH", data[pos:pos + 4])
        attrs.setdefault(a_kind, data[pos + 4:pos + 4 + a_len])
        pos += 4 + a_len + (-a_len % 4)
    return kind, attrs


def error_code(attrs: dict[int, bytes]) -> int | None:
    raw = attrs.get(ERROR_CODE)
    return None if raw is None else (raw[2] & 0x7) * 100 + raw[3]


def exchange(sock: socket.socket, port: int, request: bytes, timeout: float = 2.0) -> bytes | None:
    sock.settimeout(timeout)
    sock.sendto(request, ("127.0.0.1", port))
    try:
        return sock.recv(2048)
    except TimeoutError:
        return None


def stun_binding(port: int) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return exchange(sock, port, message(BINDING, b""), timeout=0.3)


def allocate(port: int, username: str, password: str) -> tuple[str, int | None]:
    """("success", None) or ("error", code) for an Allocate with these long-term credentials."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # one 5-tuple: the nonce is bound to it
        return _allocate(sock, port, username, password)


def _allocate(sock: socket.socket, port: int, username: str, password: str) -> tuple[str, int | None]:
    transport = attr(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))  # UDP
    first = exchange(sock, port, message(ALLOCATE, transport))
    assert first is not None, "no answer to the unauthenticated Allocate"
    kind, attrs = parse(first)
    assert kind == 0x0113 and error_code(attrs) == 401, "coturn must challenge an unauthenticated Allocate"
    realm, nonce = attrs[REALM_ATTR], attrs[NONCE]
    key = hashlib.md5(f"{username}:{realm.decode()}:{password}".encode()).digest()  # noqa: S324 - RFC 5389
    body = transport + attr(USERNAME, username.encode()) + attr(REALM_ATTR, realm) + attr(NONCE, nonce)
    reply = exchange(sock, port, message(ALLOCATE, body, key))
    assert reply is not None, "no answer to the authenticated Allocate"
    kind, attrs = parse(reply)
    if kind == 0x0103:
        assert XOR_RELAYED_ADDRESS in attrs
        return "success", None
    return "error", error_code(attrs)


# ---- the app ----------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def app_with_turn(settings: Settings, turn: Turn) -> AsyncIterator[Live]:
    settings.turn_urls = [turn.url]
    settings.turn_secret = turn.secret
    settings.turn_ttl_s = 600
    async with live_app(settings) as live:
        yield live


async def ice_servers_for(live: Live, *, staff: str | None = None) -> list[dict[str, Any]]:
    """What a page gets from GET /api/ice-servers (an applicant session, or a logged-in agent)."""
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        await http.get("/healthz")
        http.headers["X-CSRF-Token"] = http.cookies["hd_csrf"]
        if staff:
            r = await http.post("/api/auth/login", json={"username": staff, "password": PASSWORD})
        else:
            r = await http.post("/api/help/session", json={"item": live.seed["item"].code})
        assert r.status_code == 200, r.text
        r = await http.get("/api/ice-servers")
        assert r.status_code == 200, r.text
        servers: list[dict[str, Any]] = r.json()["ice_servers"]
        return servers


def turn_entry(servers: list[dict[str, Any]]) -> dict[str, Any]:
    entry = next(s for s in servers if any(u.startswith("turn:") for u in s["urls"]))
    return entry


async def test_coturn_accepts_the_apps_credentials_and_refuses_expired_ones(
        settings: Settings, turnserver: Turn) -> None:
    async with app_with_turn(settings, turnserver) as live:
        entry = turn_entry(await ice_servers_for(live))
    expiry, member = entry["username"].split(":", 1)
    assert member.startswith("a:") and int(expiry) > time.time() + 500
    assert await asyncio.to_thread(allocate, turnserver.port, entry["username"], entry["credential"]) == (
        "success", None)

    # The same scheme with an expiry in the past: a correct HMAC, refused because it expired.
    expired_user, expired_pass = turn_credentials(turnserver.secret, member, int(time.time()) - 60)
    assert await asyncio.to_thread(allocate, turnserver.port, expired_user, expired_pass) == ("error", 401)
    # A credential not made with the shared secret.
    forged = base64.b64encode(hmac.new(b"not-the-secret", entry["username"].encode(), hashlib.sha1).digest())
    assert await asyncio.to_thread(allocate, turnserver.port, entry["username"], forged.decode()) == (
        "error", 401)


# Two pages: RTCPeerConnection with iceTransportPolicy "relay", a data channel, SDP handed over by the test
# (complete descriptions after gathering); the pair in use must be relay ↔ relay.
PEER_JS = """
async ([servers, role, remote]) => {
  if (!window.__pc) {
    const pc = new RTCPeerConnection({iceServers: servers, iceTransportPolicy: 'relay'});
    window.__pc = pc; window.__got = [];
    const wire = (ch) => { window.__ch = ch; ch.onmessage = (e) => {
      window.__got.push(e.data); if (role === 'answer') ch.send('pong:' + e.data); }; };
    if (role === 'offer') wire(pc.createDataChannel('t')); else pc.ondatachannel = (e) => wire(e.channel);
  }
  const pc = window.__pc;
  const gathered = () => new Promise((res) => {
    if (pc.iceGatheringState === 'complete') return res();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && res());
  });
  if (role === 'offer' && !remote) {
    await pc.setLocalDescription(await pc.createOffer()); await gathered();
    return pc.localDescription.sdp;
  }
  if (role === 'answer') {
    await pc.setRemoteDescription({type: 'offer', sdp: remote});
    await pc.setLocalDescription(await pc.createAnswer()); await gathered();
    return pc.localDescription.sdp;
  }
  await pc.setRemoteDescription({type: 'answer', sdp: remote});
  return '';
}
"""

PAIR_JS = """
async () => {
  const stats = await window.__pc.getStats(); let pair = null; const by = {};
  stats.forEach((r) => { by[r.id] = r; });
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = by[r.selectedCandidatePairId]; });
  if (!pair) stats.forEach((r) => {
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
  return {state: window.__pc.connectionState, got: window.__got,
          local: pair && by[pair.localCandidateId].candidateType,
          remote: pair && by[pair.remoteCandidateId].candidateType};
}
"""


@pytest.mark.browser
async def test_relay_only_call_between_two_browsers_with_the_apps_credentials(
        settings: Settings, turnserver: Turn, chromium_path: str) -> None:
    async with app_with_turn(settings, turnserver) as live:
        applicant_ice = await ice_servers_for(live)
        agent_ice = await ice_servers_for(live, staff=live.seed["agent"].username)
        async with chromium(chromium_path) as browser:
            pages = []
            for _ in range(2):
                page = await (await browser.new_context(base_url=live.url)).new_page()
                page.set_default_timeout(20_000)
                await page.goto("/healthz")  # a secure-enough origin for RTCPeerConnection: http://127.0.0.1
                pages.append(page)
            caller, callee = pages
            try:
                async with asyncio.timeout(30):
                    offer = await caller.evaluate(PEER_JS, [applicant_ice, "offer", None])
                    candidates = [line for line in offer.splitlines() if line.startswith("a=candidate:")]
                    assert candidates and all(" typ relay " in c for c in candidates), offer
                    answer = await callee.evaluate(PEER_JS, [agent_ice, "answer", offer])
                    assert all(" typ relay " in c for c in answer.splitlines() if c.startswith("a=candidate:"))
                    await caller.evaluate(PEER_JS, [applicant_ice, "offer", answer])
                    while (await caller.evaluate("() => window.__ch && window.__ch.readyState")) != "open":
                        await asyncio.sleep(0.05)
                    await caller.evaluate("() => window.__ch.send('ping over TURN')")
                    while "pong:ping over TURN" not in (await caller.evaluate(PAIR_JS))["got"]:
                        await asyncio.sleep(0.05)
                result = await caller.evaluate(PAIR_JS)
                assert result["state"] == "connected"
                assert (result["local"], result["remote"]) == ("relay", "relay"), result
                assert "ping over TURN" in (await callee.evaluate(PAIR_JS))["got"]
            except BaseException:
                print(f"---- turnserver log ----\n{tail(turnserver.log)}")
                raise


@pytest.mark.browser
async def test_relay_only_call_fails_with_expired_credentials(
        settings: Settings, turnserver: Turn, chromium_path: str) -> None:
    """The browser side of the refusal: expired credentials gather no relay candidate at all."""
    expired_user, expired_pass = turn_credentials(turnserver.secret, "a:late", int(time.time()) - 60)
    servers = [{"urls": [turnserver.url], "username": expired_user, "credential": expired_pass}]
    async with chromium(chromium_path) as browser:
        page = await browser.new_page()
        async with asyncio.timeout(30):
            offer = await page.evaluate(PEER_JS, [servers, "offer", None])
    assert not [line for line in offer.splitlines() if line.startswith("a=candidate:")], offer
    # coturn refused the expired username (and answered 401, as the Allocate test checks).
    assert f"Cannot find credentials of user <{expired_user}>" in tail(turnserver.log, 200)
