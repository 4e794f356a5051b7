"""Demo content: the guides in knowledgebase/demo/ and a few canned replies, loaded idempotently."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpdesk.config import Settings
from helpdesk_kb import repository as repo
from helpdesk_kb.analysis import init_jieba
from helpdesk_kb.index import IndexDoc, KbIndex
from helpdesk_kb.models import KbCannedReply
from helpdesk_kb.porting import ImportReport, import_folder

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"

CANNED_REPLIES: list[tuple[str, str]] = [
    ("问候", "您好，这里是政务服务视频帮办，我是帮办人员，请问您要办理什么事项？"),
    ("请共享屏幕", "为了更好地指导您操作，请点击屏幕下方的“共享屏幕”，我来一步一步带您填写。"),
    ("材料已发送", "我已把空白表格和填写样例发到对话里，您点开就能下载，照着样例填写即可。"),
    ("稍等查询", "请您稍等，我查询一下该事项的最新办理要求，大约需要一分钟。"),
    ("提交后留意短信", "申请提交后，审批结果会通过短信和冀时办APP消息通知您，请留意查收。"),
    ("网络不好", "您那边的画面有些卡顿，可以换到信号更好的位置，或者先关闭视频只保留语音。"),
    ("结束语", "本次帮办就到这里，如果还有问题可以随时再发起视频帮办。请您对本次服务进行评价，谢谢！"),
]


async def load_replies(session: AsyncSession, now: datetime) -> int:
    existing = set(await session.scalars(select(KbCannedReply.title).where(KbCannedReply.unit_id.is_(None))))
    added = 0
    for sort, (title, text) in enumerate(CANNED_REPLIES):
        if title not in existing:
            session.add(KbCannedReply(unit_id=None, title=title, text=text, sort=sort * 10, created_at=now))
            added += 1
    await session.flush()
    return added


async def load_demo(
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    folder: Path | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import and publish the demo guides (matched to service items by name), then index them.

    Safe to run again: unchanged files are skipped, changed ones get a new published version.
    """
    now = now or datetime.now(UTC)
    async with session_factory() as session:
        report = await import_folder(session, settings, folder or DEMO_DIR, now=now, publish=True)
        await load_replies(session, now)
        await session.commit()
        upserts, deletes = await repo.index_changes(session, report.changed_ids)
    await asyncio.to_thread(write_index, settings, upserts, deletes)
    return report


def write_index(settings: Settings, upserts: list[IndexDoc], deletes: list[str]) -> None:
    init_jieba()
    index = KbIndex(settings.kb_index_dir)
    try:
        index.write(upserts, deletes)
    finally:
        index.close()
