"""`helpdesk kb reindex | import DIR | export DIR`: registered by helpdesk.cli through register()."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def register(subparsers: Any) -> None:
    kb = subparsers.add_parser("kb", help="knowledge base: rebuild the search index, import, export")
    sub = kb.add_subparsers(dest="kb_command", required=True)
    p = sub.add_parser("reindex", help="rebuild the search index from the database (progress bar)")
    p.set_defaults(func=_reindex)
    p = sub.add_parser("import", help="import a folder of Markdown articles with front matter")
    p.add_argument("dir", type=Path)
    p.add_argument("--draft", action="store_true", help="import as drafts (do not publish)")
    p.set_defaults(func=_import)
    p = sub.add_parser("export", help="export every article (and its files) to a folder")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=_export)


async def _with_db(work: Callable[[Any, Any], Awaitable[T]]) -> T:
    from helpdesk.config import Settings
    from helpdesk.db import make_engine, make_session_factory

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        return await work(settings, make_session_factory(engine))
    finally:
        await engine.dispose()


def _reindex(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from helpdesk_kb.analysis import init_jieba
    from helpdesk_kb.component import Kb
    from helpdesk_kb.index import KbIndex

    class _Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    async def work(settings: Any, sessions: Any) -> int:
        init_jieba()
        kb = Kb(settings, _Clock(), KbIndex(settings.kb_index_dir), redis=_redis(settings))
        columns = (TextColumn("[bold]kb reindex"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as progress:
            task = progress.add_task("articles", total=None)

            def step(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            try:
                return await kb.rebuild(sessions, step)
            finally:
                kb.close()
                if kb.redis is not None:
                    await kb.redis.aclose()

    count = asyncio.run(_with_db(work))
    print(f"indexed {count} articles")
    return 0


def _redis(settings: Any) -> Any:
    if not settings.redis_url:
        return None
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(settings.redis_url, decode_responses=True)


def _import(args: argparse.Namespace) -> int:
    from helpdesk_kb.demo import load_demo

    if not args.dir.is_dir():
        print(f"error: {args.dir} is not a folder")
        return 1
    if args.draft:
        return asyncio.run(_with_db(lambda s, f: _import_drafts(s, f, args.dir)))
    report = asyncio.run(_with_db(lambda settings, sessions: load_demo(sessions, settings, folder=args.dir)))
    print(f"created {len(report.created)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0


async def _import_drafts(settings: Any, sessions: Any, folder: Path) -> int:
    from helpdesk_kb import repository as repo
    from helpdesk_kb.demo import write_index
    from helpdesk_kb.porting import import_folder

    async with sessions() as session:
        report = await import_folder(session, settings, folder, now=datetime.now(UTC), publish=False)
        await session.commit()
        upserts, deletes = await repo.index_changes(session, report.changed_ids)
    await asyncio.to_thread(write_index, settings, upserts, deletes)
    print(f"created {len(report.created)} drafts, updated {len(report.updated)}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from helpdesk_kb.porting import export_folder

    async def work(settings: Any, sessions: Any) -> int:
        async with sessions() as session:
            return await export_folder(session, settings, args.dir)

    count = asyncio.run(_with_db(work))
    print(f"exported {count} articles to {args.dir}")
    return 0
