"""The `helpdesk` command. Each subcommand is registered by a `register(subparsers)` callable in
REGISTRARS, so components add theirs (e.g. `kb reindex`) without this file knowing their insides.
Heavy imports happen inside the handlers: `helpdesk --help` stays instant."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from helpdesk.accountability.cli import register as register_audit
from helpdesk.accounts.cli import register as register_createuser
from helpdesk.admin.cli import register as register_admin
from helpdesk.privacy.cli import register as register_privacy

Subparsers = Any  # argparse._SubParsersAction is private; its add_parser() is what registrars use
Register = Callable[[Subparsers], None]
out = Console()
err = Console(stderr=True)


class CLIError(Exception):
    """A user mistake: printed in one red line, exit status 1, no traceback."""


def _database_url(args: argparse.Namespace) -> str:
    if getattr(args, "url", None):
        return str(args.url)
    from helpdesk.config import Settings

    return Settings().database_url


def _require_migrated(url: str) -> None:
    from helpdesk import migrations

    if migrations.current(url) is None:
        raise CLIError("the database has no tables yet: run `helpdesk db upgrade` first")


def _show_alembic_log() -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=err, show_path=False, show_time=False)
    handler.addFilter(lambda r: r.levelno > logging.INFO or r.getMessage().startswith("Running "))
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])
    logging.getLogger("alembic").setLevel(logging.INFO)


def register_serve(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="run the web server (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    p.add_argument("--workers", type=int, default=1, help="processes; more than one needs HELPDESK_REDIS_URL")
    p.add_argument("--forwarded-allow-ips", default=None,
                   help="proxies whose X-Forwarded-For is trusted ('*' behind a private proxy network); "
                   "default: $FORWARDED_ALLOW_IPS, else 127.0.0.1")
    p.set_defaults(func=_serve)


# uvicorn's sans-I/O WebSocket protocol made lean (helpdesk_signaling/uvicorn_ws.py): no tasks of its own
# per socket, the signaling relay writes frames to it without a task hop (helpdesk_signaling/wire.py),
# and an idle socket is parked without a task at all.
WS_IMPL = "helpdesk_signaling.uvicorn_ws:LeanWebSocketProtocol"


def ws_options(compression: bool) -> dict[str, Any]:
    """uvicorn's WebSocket settings for `helpdesk serve`. No protocol-level pings: the app's heartbeat
    (the client pings every heartbeat_s, the server closes a socket silent for two, socket.js gives up
    on a server silent for 2.5) already finds dead peers both ways, and uvicorn's pings cost a timer
    and a wake-up per socket every 20 s."""
    return {"ws": WS_IMPL, "ws_per_message_deflate": compression, "ws_ping_interval": None}


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from helpdesk.config import Settings
    from helpdesk.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)  # uvicorn's loggers propagate to it
    if args.reload or args.workers > 1:  # uvicorn's supervisors: sockets closed 1012 without `reconnect`
        uvicorn.run("helpdesk.app:create_app", factory=True, host=args.host, port=args.port, log_config=None,
                    reload=args.reload, workers=None if args.reload else args.workers, proxy_headers=True,
                    forwarded_allow_ips=args.forwarded_allow_ips, **ws_options(settings.ws_compression))
        return
    from helpdesk.drain import DrainingServer

    # One process (a container replica): shutdown first tells every socket to reconnect elsewhere.
    config = uvicorn.Config("helpdesk.app:create_app", factory=True, host=args.host, port=args.port,
                            log_config=None, proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
                            timeout_graceful_shutdown=15, **ws_options(settings.ws_compression))
    DrainingServer(config).run()


def register_db(sub: Subparsers) -> None:
    db = sub.add_parser("db", help="database migrations (Alembic)").add_subparsers(dest="db_command",
                                                                                   required=True)
    up = db.add_parser("upgrade", help="migrate to the newest (or a given) revision")
    up.add_argument("revision", nargs="?", default="head")
    down = db.add_parser("downgrade", help="migrate back to a revision ('base': empty)")
    down.add_argument("revision")
    cur = db.add_parser("current", help="show the database's revision and the code's head")
    rev = db.add_parser("revision", help="autogenerate a new version file from the models")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--empty", action="store_true", help="an empty file to fill in by hand")
    rev.add_argument("--rewrite-initial", action="store_true",
                     help="before the first release: regenerate the single initial revision")
    for p in (up, down, cur):
        p.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    up.set_defaults(func=_db_upgrade)
    down.set_defaults(func=_db_downgrade)
    cur.set_defaults(func=_db_current)
    rev.set_defaults(func=_db_revision)


def _db_upgrade(args: argparse.Namespace) -> None:
    from helpdesk import migrations

    _show_alembic_log()
    url = _database_url(args)
    with err.status(f"Migrating to {args.revision} …"):
        migrations.upgrade(url, args.revision)
    out.print(f"[green]database at revision {migrations.current(url)}[/]")


def _db_downgrade(args: argparse.Namespace) -> None:
    from helpdesk import migrations

    _show_alembic_log()
    migrations.downgrade(_database_url(args), args.revision)


def _db_current(args: argparse.Namespace) -> None:
    from helpdesk import migrations

    now, head = migrations.current(_database_url(args)), migrations.head()
    state = "up to date" if now == head else "needs `helpdesk db upgrade`"
    out.print(f"current: {now or '(none)'}  head: {head}  ({state})")


def _db_revision(args: argparse.Namespace) -> None:
    from pathlib import Path

    from helpdesk import migrations

    _show_alembic_log()
    if args.rewrite_initial:
        try:
            path: Path | None = migrations.rewrite_initial(args.message)
        except RuntimeError as exc:
            raise CLIError(str(exc)) from exc
    else:
        path = migrations.revision(args.message, autogenerate=not args.empty)
    if path is None:
        raise CLIError("the models match the migrations: nothing to write (tables are found only in "
                       "modules named models.py)")
    out.print(f"[green]wrote {path}[/] — review it before committing")


def register_demo(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="load the demo org tree, items, holidays and staff (idempotent)")
    p.add_argument("--url", help="database URL (default: HELPDESK_DATABASE_URL)")
    p.add_argument("--open-all-hours", action="store_true",
                   help="every demo desk open around the clock (default: real office hours and holidays)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> None:
    from rich.table import Table

    from helpdesk import demo_data
    from helpdesk.config import Settings
    from helpdesk.demo import run_demo

    settings = Settings()
    if not settings.dev_mode:
        raise CLIError("demo logins have a known password; refused when HELPDESK_DEV_MODE is false")
    _require_migrated(_database_url(args))
    with err.status("Loading demo data …") as status:
        counts = asyncio.run(run_demo(_database_url(args), lambda step: status.update(f"Loading {step} …"),
                                      settings, open_all_hours=args.open_all_hours))
    out.print("demo data: " + ", ".join(f"{n} {table}" for table, n in counts.items()))
    base = settings.public_base_url.rstrip("/")
    out.print(f"\n  staff console  {base}/console/\n  applicant page {base}/help?item={demo_data.DEMO_ITEM}"
              f"\n  API docs       {base}/docs\n")
    logins = Table("username", "password", "role", "unit", title="demo logins (dev only)")
    names = {u.code: u.name for u in demo_data.UNITS}
    for p in demo_data.STAFF:
        logins.add_row(p.username, demo_data.DEMO_PASSWORD, p.role, names[p.unit])
    out.print(logins)


# Meanings for settings declared without a Field(description=...); the description wins when present.
SETTING_NOTES = {
    "database_echo": "Log every SQL statement (debugging).",
    "public_base_url": "The address applicants and staff use; links and secure cookies follow it.",
    "session_max_age_s": "Staff login lifetime.",
    "applicant_session_max_age_s": "Applicant cookie lifetime (no account; name and phone optional).",
    "default_language": "Language of the pages when the browser does not choose (zh-CN or en).",
    "login_free_failures": "Failed logins allowed in the window before lock-outs start.",
    "login_window_s": "Window in which failed logins are counted.",
    "login_max_lockout_s": "Cap on the exponentially growing lock-out.",
    "handoff_issuers": "Systems allowed to hand applicants over (JWT `iss`).",
    "handoff_max_age_s": "Oldest hand-off token accepted.",
    "upload_dir": "Where files exchanged in calls and KB attachments are stored.",
    "upload_max_bytes": "Largest file accepted.",
    "upload_allowed_types": "Content types accepted for uploads.",
    "stun_urls": "STUN servers offered to browsers.",
    "turn_urls": "TURN servers (coturn) offered to browsers.",
    "turn_secret": "coturn `static-auth-secret` for time-limited TURN credentials.",
    "turn_ttl_s": "Lifetime of a TURN credential.",
    "offer_timeout_s": "How long an agent has to accept an offered call.",
    "missed_offers_before_away": "Missed offers after which an agent is set away.",
    "fallback_after_s": "Wait after which a call may go up a level (township → county → city).",
    "reconnect_grace_s": "How long a dropped call waits for its peer to come back.",
    "heartbeat_interval_s": "WebSocket ping interval.",
    "ws_max_message_bytes": "Largest WebSocket message accepted.",
    "wrapup_s": "After-call work time before an agent is offered the next call.",
    "default_handle_time_s": "Assumed call length for the expected wait until figures exist.",
    "kb_index_dir": "Whoosh index of the knowledge base.",
    "recordings_dir": "Remote-inspection recordings and snapshots.",
    "recording_retention_days": "Days before inspection media are deleted.",
}


def settings_table() -> str:
    """The README's configuration table, generated from the Settings model so it cannot drift."""
    import json
    from pathlib import Path

    from helpdesk.config import REPO_ROOT, Settings

    def show(value: Any) -> str:
        if isinstance(value, Path):
            value = str(value).replace(str(REPO_ROOT), "<repo>")
        elif value is None:
            return "(unset)"
        elif not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        return f"`{value}`" if value != "" else '`""`'

    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        meaning = field.description or SETTING_NOTES.get(name, "")
        lines.append(f"| {name} | `HELPDESK_{name.upper()}` | {show(default)} | {meaning} |")
    return "\n".join(lines) + "\n"


def register_settings(sub: Subparsers) -> None:
    p = sub.add_parser("settings", help="print every setting, its environment variable and default")
    p.add_argument("--write", metavar="README", help="replace the table between the settings markers")
    p.set_defaults(func=_settings)


def _settings(args: argparse.Namespace) -> None:
    import re
    from pathlib import Path

    if not args.write:
        print(settings_table(), end="")
        return
    path = Path(args.write)
    text, n = re.subn(r"(<!-- settings:start -->\n).*?(<!-- settings:end -->)",
                      lambda m: m.group(1) + settings_table() + m.group(2), path.read_text(), flags=re.S)
    if not n:
        raise CLIError(f"{path} has no <!-- settings:start --> / <!-- settings:end --> markers")
    path.write_text(text)


def register_kb(sub: Subparsers) -> None:
    """The component's own commands (kb reindex | import | export), each run after every table is
    registered: the KB's rows point at service items, which the component itself never imports."""
    from helpdesk_kb.cli import register

    register(sub)
    commands = next(a for a in sub.choices["kb"]._actions if isinstance(a, argparse._SubParsersAction))
    for parser in commands.choices.values():
        parser.set_defaults(func=_with_all_tables(parser.get_default("func")))


def _with_all_tables(func: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
    def run(args: argparse.Namespace) -> Any:
        import helpdesk.models  # noqa: F401 - every table, so foreign keys resolve

        return func(args)

    return run


REGISTRARS: list[Register] = [register_serve, register_db, register_demo, register_createuser,
                              register_settings, register_audit, register_admin, register_kb, register_privacy]


def build_parser(registrars: Sequence[Register] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description="视频导办帮办 · video guidance helpdesk")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS if registrars is None else registrars:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from helpdesk.errors import HelpdeskError

    try:
        result = args.func(args)
    except (CLIError, HelpdeskError) as exc:  # a user's mistake, not a crash: no traceback
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
