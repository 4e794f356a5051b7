"""`helpdesk createuser USERNAME --role ... --unit CODE`: a staff account from the command line (the
first admin of an empty database included, with --unit-name), through the accounts service's rules
and recorded in the admin audit chain as "cli". Heavy imports stay inside the handlers."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

out = Console()


def register(sub: Any) -> None:
    p = sub.add_parser("createuser", help="create a staff account")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["agent", "supervisor", "admin"])
    p.add_argument("--unit", required=True, help="org unit code, e.g. 130600")
    p.add_argument("--unit-name", help="on an empty database only: create this top unit (the first admin's)")
    p.add_argument("--unit-level", default="province", choices=["province", "city", "county"],
                   help="level of the top unit created with --unit-name (default: province)")
    p.add_argument("--display-name", help="shown to applicants (default: the username)")
    p.add_argument("--skills", default="", help="comma-separated department or item codes: SCJG,YPJG-001")
    p.add_argument("--capacity", type=int, default=1, help="simultaneous calls")
    p.add_argument("--kb-editor", action="store_true", help="may edit the knowledge base")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password", help="avoid on shared machines: it lands in the shell history")
    group.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    p.set_defaults(func=_createuser)


def _read_password(args: argparse.Namespace) -> str:
    from helpdesk.cli import CLIError

    if args.password is not None:
        password = str(args.password)
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CLIError("the passwords differ")
    else:
        raise CLIError("no terminal to prompt on: pass --password or --password-stdin")
    return password


def _createuser(args: argparse.Namespace) -> None:
    from helpdesk.cli import _database_url, _require_migrated

    url = _database_url(args)
    _require_migrated(url)
    password = _read_password(args)
    staff_id = asyncio.run(_create_staff(args, password, url))
    out.print(f"[green]created {args.role} {escape(args.username)} (id {staff_id})[/]")


async def _create_staff(args: argparse.Namespace, password: str, url: str) -> int:
    """Resolves codes to ids, then the accounts service applies the one set of account rules."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from helpdesk.accounts.service import Skill, create_staff
    from helpdesk.admin import audit
    from helpdesk.cli import CLIError
    from helpdesk.db import make_engine, make_session_factory
    from helpdesk.org.models import Department, OrgUnit, ServiceItem

    codes = [c.strip() for c in args.skills.split(",") if c.strip()]
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as s:
            unit_id = (await s.execute(select(OrgUnit.id).filter_by(code=args.unit))).scalar_one_or_none()
            if unit_id is None and args.unit_name and await s.scalar(select(OrgUnit.id).limit(1)) is None:
                unit_id = await _first_unit(s, args)
            if unit_id is None:
                hint = " (on an empty database, add --unit-name to create it)" if not args.unit_name else ""
                raise CLIError(f"no org unit with code {args.unit!r}{hint}")
            found: list[dict[str, int]] = []
            for model in (Department, ServiceItem):
                rows = await s.execute(select(model.code, model.id).where(model.code.in_(codes)))
                found.append({r.code: r.id for r in rows})
            departments, items = found
            if missing := [c for c in codes if c not in departments and c not in items]:
                raise CLIError(f"unknown skill codes: {', '.join(missing)}")
            skills = [Skill(department_id=departments[c]) if c in departments else Skill(item_id=items[c])
                      for c in codes]
            staff = await create_staff(
                s, username=args.username, password=password, display_name=args.display_name or args.username,
                role=args.role, unit_id=unit_id, capacity=args.capacity, skills=skills,
                kb_editor=args.kb_editor)
            await audit.record(s, kind="staff.create", actor="cli", at=staff.created_at or datetime.now(UTC),
                               target=f"staff:{staff.username}",
                               after={"role": args.role, "unit": args.unit, "skills": codes})
            await s.commit()
            return staff.id
    finally:
        await engine.dispose()


async def _first_unit(session: Any, args: argparse.Namespace) -> int:
    """The top of the org tree on an empty database, through the admin service (audited)."""
    from datetime import UTC, datetime

    from helpdesk.admin.scope import CLI_SCOPE
    from helpdesk.admin.units import create_unit

    unit = await create_unit(session, CLI_SCOPE, code=args.unit, name=args.unit_name, level=args.unit_level,
                             parent_id=None, now=datetime.now(UTC))
    return unit.id
