"""`helpdesk audit verify`: walks every work order's hash chain and reports the first broken entry.

Exit status 0 when every chain verifies, 1 when one does not. Heavy imports stay in the handler."""

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
    verify.set_defaults(func=_verify)


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


def _verify(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from helpdesk.config import Settings

    url = args.url or Settings().database_url
    result = asyncio.run(run_verify(url, args.work_order))
    if result.ok:
        out.print(f"[green]audit log intact[/]: {result.entries} entries in {result.chains} chains")
        out.print(f"chain digest {result.digest} (keep it elsewhere to detect a deleted tail later)")
        return 0
    first = result.first
    err.print(f"[red]audit log broken[/] at {escape(str(first))}")
    if len(result.broken) > 1:
        err.print(f"{len(result.broken)} chains are broken in all:")
        for b in result.broken:
            err.print(f"  {escape(str(b))}")
    return 1
