"""Signed checkpoints of every audit chain's head, so a chain rewritten from scratch (every hash
recomputed) is still caught: its head no longer matches what was signed and sent elsewhere.

Once a day (UTC) one process writes a checkpoint: every work order's (seq, hash) head, their digest,
and an Ed25519 signature. The key comes from HELPDESK_AUDIT_SIGNING_KEY (PEM) or is derived from the
secret key; its public half travels with every checkpoint and bundle, and auditors pin it with
`helpdesk audit verify --public-key`. With HELPDESK_AUDIT_CHECKPOINT_WEBHOOK_URL set, each checkpoint
is also POSTed there (the copy an attacker of this database cannot reach)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.accountability.models import AuditCheckpoint
from helpdesk.config import Settings
from helpdesk.state import AppState
from helpdesk.tasks import start_background
from helpdesk.workorders.models import WorkOrderEvent

log = logging.getLogger(__name__)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    if settings.audit_signing_key:
        key = serialization.load_pem_private_key(settings.audit_signing_key.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("HELPDESK_AUDIT_SIGNING_KEY must be an Ed25519 private key (PEM)")
        return key
    seed = hashlib.sha256(f"helpdesk-audit-checkpoint:{settings.secret_key}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def digest_of(heads: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(heads, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def signed_bytes(day: str, at: str, digest: str) -> bytes:
    return f"helpdesk-audit-checkpoint/1\n{day}\n{at}\n{digest}".encode()


def as_document(cp: AuditCheckpoint | dict[str, Any]) -> dict[str, Any]:
    """The exportable form: everything a verifier needs, offline."""
    if isinstance(cp, dict):
        return cp
    return {"day": cp.day, "at": cp.at.isoformat(), "heads": cp.heads, "digest": cp.digest,
            "public_key": cp.public_key, "signature": cp.signature}


def check_document(doc: dict[str, Any], pinned_public_key: str | None = None) -> list[str]:
    """Problems with a checkpoint document: its digest, its signature, the key it was signed with."""
    problems = []
    if digest_of(doc["heads"]) != doc["digest"]:
        problems.append("checkpoint heads do not match its digest")
    if pinned_public_key and pinned_public_key != doc["public_key"]:
        problems.append("checkpoint was signed with another key than the pinned one")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(doc["public_key"])).verify(
            base64.b64decode(doc["signature"]), signed_bytes(doc["day"], doc["at"], doc["digest"]))
    except (InvalidSignature, ValueError):
        problems.append("checkpoint signature is not valid")
    return problems


async def chain_heads(session: AsyncSession) -> dict[str, Any]:
    last = (select(WorkOrderEvent.work_order_id, func.max(WorkOrderEvent.seq).label("seq"))
            .group_by(WorkOrderEvent.work_order_id).subquery())
    rows = await session.execute(
        select(WorkOrderEvent.work_order_id, WorkOrderEvent.seq, WorkOrderEvent.hash)
        .join(last, (last.c.work_order_id == WorkOrderEvent.work_order_id) & (last.c.seq == WorkOrderEvent.seq)))
    return {wo: [seq, h] for wo, seq, h in rows.all()}


async def make_checkpoint(session: AsyncSession, settings: Settings, now: datetime) -> AuditCheckpoint:
    """Signs today's heads (the caller commits; a second one the same day fails its unique key)."""
    heads = await chain_heads(session)
    key = signing_key(settings)
    day, at, digest = now.date().isoformat(), now.isoformat(), digest_of(heads)
    cp = AuditCheckpoint(day=day, at=now, heads=heads, digest=digest, public_key=public_hex(key),
                         signature=base64.b64encode(key.sign(signed_bytes(day, at, digest))).decode())
    session.add(cp)
    await session.flush()
    return cp


async def rewritten_chains(session: AsyncSession, doc: dict[str, Any]) -> list[str]:
    """Work orders whose chain no longer holds the signed head (rewritten or cut)."""
    out = []
    for wo, (seq, head) in sorted(doc["heads"].items()):
        now = await session.scalar(select(WorkOrderEvent.hash).where(
            WorkOrderEvent.work_order_id == wo, WorkOrderEvent.seq == seq))
        if now != head:
            out.append(wo)
    return out


async def send_to_webhook(settings: Settings, doc: dict[str, Any]) -> None:
    import httpx

    body = json.dumps({"type": "audit.checkpoint", **doc}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if settings.webhook_secret:
        mac = hmac.new(settings.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Helpdesk-Signature"] = f"sha256={mac}"
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_s) as client:
        r = await client.post(str(settings.audit_checkpoint_webhook_url), content=body, headers=headers)
        r.raise_for_status()


FIRST_RUN_AFTER_S = 300.0


async def checkpoint_daily(state: AppState) -> None:
    """Every process tries once an interval; the day's unique key lets exactly one of them write.
    The first try waits a little: a process that starts (or a short-lived one) is not busy writing."""
    await asyncio.sleep(min(state.settings.audit_checkpoint_interval_s, FIRST_RUN_AFTER_S))
    while True:
        try:
            async with state.sessions() as s:
                day = state.clock.now().date().isoformat()
                if await s.scalar(select(AuditCheckpoint.id).where(AuditCheckpoint.day == day)) is None:
                    cp = await make_checkpoint(s, state.settings, state.clock.now())
                    doc = as_document(cp)
                    await s.commit()
                    log.info("audit checkpoint %s: %d chains, digest %s", day, len(cp.heads), cp.digest[:16])
                    if state.settings.audit_checkpoint_webhook_url:
                        await send_to_webhook(state.settings, doc)
        except IntegrityError:
            pass  # another process wrote today's
        except Exception:  # the next interval tries again; the cause is logged
            log.exception("audit checkpoint failed")
        await asyncio.sleep(state.settings.audit_checkpoint_interval_s)


async def wire_checkpoints(state: AppState, stack: AsyncExitStack) -> None:
    if state.settings.audit_checkpoint_interval_s > 0:
        start_background(stack, checkpoint_daily(state), "audit-checkpoint")
