"""`helpdesk audit verify`: walks every work order's hash chain, reports the first broken entry and
checks the signed checkpoints (a chain rewritten from scratch no longer holds its signed head).
`helpdesk audit checkpoint` signs one now; `helpdesk audit export WORK_ORDER` writes an evidence
bundle that `helpdesk audit verify --bundle FOLDER` checks offline.

Exit status 0 when everything verifies, 1 when something does not. Heavy imports stay in the handlers."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from typing import Any

from rich.console import Console

out = Console()
err = Console(stderr=True)


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident audit log of work orders")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="check every hash chain; report the first broken entry")
    verify.add_argument("--work-order", help="only this work order's chain (its id)")
    verify.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    verify.add_argument("--bundle", help="check an exported evidence bundle folder instead (offline)")
    verify.add_argument("--public-key", help="the checkpoint signer's Ed25519 public key (hex) to pin")
    verify.set_defaults(func=_verify)
    export = commands.add_parser("export", help="write one work order's evidence bundle (events, files, "
                                 "hashes, signed checkpoint)")
    export.add_argument("work_order", help="work order id or number")
    export.add_argument("--out", required=True, help="folder to write")
    export.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    export.set_defaults(func=_export)
    checkpoint = commands.add_parser("checkpoint", help="sign every chain's head now; print the checkpoint")
    checkpoint.add_argument("--out", help="also write it to this file")
    checkpoint.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    checkpoint.set_defaults(func=_checkpoint)


async def run_verify(url: str, work_order_id: str | None) -> Any:
    """The work orders' chains and, unless one work order is asked for, the admin chain (admin
    changes, logins, role and token changes: helpdesk/admin/audit.py)."""
    from helpdesk.accountability.audit import verify
    from helpdesk.admin.audit import verify as verify_admin
    from helpdesk.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            result = await verify(session, work_order_id)
            if work_order_id is None:
                admin = await verify_admin(session)
                result.chains += admin.chains
                result.entries += admin.entries
                assert result.broken is not None
                result.broken.extend(admin.broken or [])
                if admin.entries:
                    result.digest = hashlib.sha256(f"{result.digest}:{admin.digest}".encode()).hexdigest()
            return result
    finally:
        await engine.dispose()


async def checkpoint_problems(url: str, public_key: str | None = None) -> list[str]:
    """Each stored checkpoint: its signature, and whether every chain still holds its signed head."""
    from sqlalchemy import select

    from helpdesk.accountability.checkpoint import as_document, check_document, rewritten_chains
    from helpdesk.accountability.models import AuditCheckpoint
    from helpdesk.db import make_engine, make_session_factory

    engine = make_engine(url)
    problems: list[str] = []
    try:
        async with make_session_factory(engine)() as session:
            for cp in (await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.day))).all():
                doc = as_document(cp)
                problems += [f"checkpoint {cp.day}: {p}" for p in check_document(doc, public_key)]
                problems += [f"checkpoint {cp.day}: work order {wo} no longer holds its signed head (rewritten "
                             "or cut)" for wo in await rewritten_chains(session, doc)]
    finally:
        await engine.dispose()
    return problems


def _verify(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from helpdesk.config import Settings

    if args.bundle:
        return _verify_bundle(args)
    url = args.url or Settings().database_url
    result = asyncio.run(run_verify(url, args.work_order))
    problems = asyncio.run(checkpoint_problems(url, args.public_key))
    for problem in problems:
        err.print(f"[red]audit checkpoint[/] {escape(problem)}")
    if result.ok and not problems:
        out.print(f"[green]audit log intact[/]: {result.entries} entries in {result.chains} chains")
        out.print(f"chain digest {result.digest} (keep it elsewhere to detect a deleted tail later)")
        return 0
    if result.ok:
        return 1
    first = result.first
    err.print(f"[red]audit log broken[/] at {escape(str(first))}")
    if len(result.broken) > 1:
        err.print(f"{len(result.broken)} chains are broken in all:")
        for b in result.broken:
            err.print(f"  {escape(str(b))}")
    return 1


def _verify_bundle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.markup import escape

    from helpdesk.accountability.bundle import verify_bundle

    report = verify_bundle(Path(args.bundle), args.public_key)
    for note in report.notes:
        out.print(f"[yellow]note[/] {escape(note)}")
    for problem in report.problems:
        err.print(f"[red]bundle broken[/] {escape(problem)}")
    if report.ok:
        out.print(f"[green]bundle intact[/]: {args.bundle}")
    return 0 if report.ok else 1


async def _in_session(url: str | None, step: Any) -> Any:
    from helpdesk.config import Settings
    from helpdesk.db import make_engine, make_session_factory

    settings = Settings()
    engine = make_engine(url or settings.database_url)
    try:
        async with make_session_factory(engine)() as session:
            result = await step(session, settings)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from helpdesk.accountability.bundle import export_bundle

    manifest = asyncio.run(_in_session(args.url, lambda s, st: export_bundle(s, st, args.work_order, Path(args.out))))
    out.print(f"bundle written to {args.out}: {len(manifest['events'])} events, {len(manifest['files'])} files, "
              f"checkpoint {manifest['checkpoint']['day'] if manifest['checkpoint'] else 'none yet'}")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from helpdesk.accountability.checkpoint import as_document, make_checkpoint
    from helpdesk.clock import SystemClock

    async def step(session: Any, settings: Any) -> Any:
        from sqlalchemy import delete

        from helpdesk.accountability.models import AuditCheckpoint

        now = SystemClock().now()
        await session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.day == now.date().isoformat()))
        return as_document(await make_checkpoint(session, settings, now))

    doc = asyncio.run(_in_session(args.url, step))
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
