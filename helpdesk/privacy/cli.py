"""`helpdesk applicant export|erase ID`: the admin's data-subject actions from the shell (audited as
actor `cli`, like the route's `s:<admin id>`)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console

out = Console()


def register(sub: Any) -> None:
    p = sub.add_parser("applicant", help="export or erase one applicant's personal data (个人信息)")
    commands = p.add_subparsers(dest="applicant_command", required=True)
    export = commands.add_parser("export", help="write everything stored about the applicant as JSON")
    export.add_argument("applicant_id")
    export.add_argument("--out", help="file to write (default: standard output)")
    erase = commands.add_parser("erase", help="blank the applicant's personal data; work orders stay")
    erase.add_argument("applicant_id")
    erase.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    for c in (export, erase):
        c.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    export.set_defaults(func=_export)
    erase.set_defaults(func=_erase)


async def run(args: argparse.Namespace, erase: bool) -> Any:
    from helpdesk.clock import SystemClock
    from helpdesk.config import Settings
    from helpdesk.db import make_engine, make_session_factory
    from helpdesk.privacy import service

    settings = Settings()
    engine = make_engine(args.url or settings.database_url)
    now = SystemClock().now()
    try:
        async with make_session_factory(engine)() as session:
            if erase:
                result: Any = await service.erase_applicant(session, settings, args.applicant_id, actor="cli",
                                                            now=now)
            else:
                result = await service.export_applicant(session, args.applicant_id, actor="cli", now=now)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _export(args: argparse.Namespace) -> int:
    text = json.dumps(asyncio.run(run(args, erase=False)), ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        out.print(f"written to {args.out}")
    else:
        print(text)
    return 0


def _erase(args: argparse.Namespace) -> int:
    if not args.yes:
        from helpdesk.errors import BadRequest

        raise BadRequest("erasure cannot be undone: add --yes")
    counts = asyncio.run(run(args, erase=True))
    out.print(f"erased: {counts['work_orders']} work orders blanked, {counts['chat']} chat messages and "
              f"{counts['files']} files deleted")
    return 0
