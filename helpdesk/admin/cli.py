"""`helpdesk import items|units|staff FILE [--dry-run]`, `helpdesk export items|units|staff FILE`,
`helpdesk holidays load YEAR`: the same services as the admin pages, acting as the bureau's admin
("cli" in the audit chain). Heavy imports stay inside the handlers so `helpdesk --help` is instant."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)
KINDS = ("items", "units", "staff")


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="bulk import of items, units or staff from CSV/XLSX (docs/admin.md)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="check every row and show what would change")
    p.add_argument("--passwords-out", type=Path,
                   help="staff: write the new accounts' one-time passwords to this CSV (else printed)")
    p.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    p.set_defaults(func=_import)
    p = sub.add_parser("export", help="export items, units or staff to CSV/XLSX (the import's format)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", type=Path, help="ends in .csv or .xlsx")
    p.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    p.set_defaults(func=_export)
    h = sub.add_parser("holidays", help="holidays and make-up working days").add_subparsers(
        dest="holidays_command", required=True)
    p = h.add_parser("load", help="load a year's holidays and make-up days (chinesecalendar / holidays)")
    p.add_argument("year", type=int)
    p.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    p.set_defaults(func=_holidays_load)


def _url(args: argparse.Namespace) -> str:
    from helpdesk.cli import _database_url, _require_migrated

    url = _database_url(args)
    _require_migrated(url)
    return url


async def _in_session(url: str, work: Any) -> Any:
    from helpdesk.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _import(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from helpdesk.admin import importing
    from helpdesk.admin.live import announce_from_cli
    from helpdesk.admin.scope import CLI_SCOPE
    from helpdesk.cli import CLIError
    from helpdesk.config import Settings

    if not args.file.is_file():
        raise CLIError(f"{args.file}: no such file")
    data, url, settings = args.file.read_bytes(), _url(args), Settings()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(f"{args.kind}: reading", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{args.kind}: {phase}", completed=done, total=total)

        async def work(session: Any) -> Any:
            plan = await importing.run(session, CLI_SCOPE, args.kind, data, args.file.name, dry_run=args.dry_run,
                                       now=_now(), max_rows=settings.import_max_rows, progress=progress)
            if plan.applied:
                await session.commit()
                await announce_from_cli((args.kind,))
            return plan

        plan = asyncio.run(_in_session(url, work))
    return _report(plan, args)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _report(plan: Any, args: argparse.Namespace) -> int:
    from rich.table import Table

    if plan.problem_count:
        table = Table("row", "code", "column", "problem", title=f"{plan.problem_count} problem(s): nothing was changed")
        for p in plan.problems:
            table.add_row(str(p.row or "-"), escape(p.key), p.column or "", escape(p.problem))
        err.print(table)
        return 1
    verb = "would create" if args.dry_run else "created"
    out.print(f"{plan.kind}: {plan.rows} rows: {verb} {len(plan.created)}, "
              f"{'would update' if args.dry_run else 'updated'} {len(plan.updated)}, unchanged {plan.unchanged}"
              + (" (dry run: nothing written)" if args.dry_run else ""))
    if plan.passwords:
        if args.passwords_out:
            import csv

            with args.passwords_out.open("w", newline="", encoding="utf-8-sig") as f:
                writer = csv.writer(f)
                writer.writerow(["username", "one_time_password"])
                writer.writerows([p["username"], p["one_time_password"]] for p in plan.passwords)
            out.print(f"one-time passwords of {len(plan.passwords)} new accounts written to {args.passwords_out}")
        else:
            from rich.table import Table as T

            table = T("username", "one-time password", title="new accounts (change at first login)")
            for p in plan.passwords:
                table.add_row(escape(p["username"]), p["one_time_password"])
            out.print(table)
    return 0


def _export(args: argparse.Namespace) -> int:
    from helpdesk.admin import exporting, sheets
    from helpdesk.admin.scope import CLI_SCOPE
    from helpdesk.cli import CLIError

    fmt = args.file.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise CLIError("the file name must end in .csv or .xlsx")

    async def work(session: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await exporting.rows(session, CLI_SCOPE, args.kind)
        return rows

    rows = asyncio.run(_in_session(_url(args), work))
    args.file.write_bytes(sheets.write(args.kind, rows, fmt))
    out.print(f"{len(rows)} {args.kind} written to {args.file}")
    return 0


def _holidays_load(args: argparse.Namespace) -> int:
    from helpdesk.admin import holidays
    from helpdesk.admin.live import announce_from_cli

    async def work(session: Any) -> dict[str, Any]:
        counts: dict[str, Any] = await holidays.load_year(session, None, args.year, _now())
        await session.commit()
        await announce_from_cli(("holidays",))
        return counts

    c = asyncio.run(_in_session(_url(args), work))
    note = " [yellow]provisional (暂定): the State Council's notice is not in the packages yet[/]" \
        if c["provisional"] else ""
    out.print(f"holidays {c['year']}: {c['days']} days; added {c['added']}, changed {c['changed']}, "
              f"removed {c['removed']}{note}")
    return 0
