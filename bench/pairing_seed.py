"""The queue bench_pairing.py starts from: units, items, agents with their skills, applicants with
their queued work orders, written straight into PostgreSQL and the Redis queue."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from helpdesk_queue import WaitingEntry
from helpdesk_queue.redis_store import RedisQueueStore

import helpdesk.models  # noqa: F401 - registers every table
from helpdesk.accounts.models import Role, Staff, StaffSkill
from helpdesk.applicants.models import Applicant
from helpdesk.db import Base, make_engine, make_session_factory
from helpdesk.org.models import UnitLevel
from helpdesk.workorders.models import Channel, WorkOrder, WorkOrderStatus
from tests.helpdesk.factories import T0, _default_hash, make_department, make_item, make_unit
from tests.journey.live import ALWAYS_OPEN


async def seed(db_url: str, redis_url: str, prefix: str, applicants: int, agents: int,
               lines: int, grace_s: float) -> dict[str, Any]:
    """Units, items, agents; applicants with their work orders (queued) and their queue entries,
    written straight into PostgreSQL and Redis (queueing 1,000 through HTTP would take minutes
    and is not what is measured), with the presence-check timers a join arms (spread over their
    period, as arrivals spread them)."""
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = make_session_factory(engine)
    async with sessions() as s:
        city = await make_unit(s, name="保定市行政审批局", level=UnitLevel.city, business_hours=ALWAYS_OPEN)
        county = await make_unit(s, parent=city, name="莲池区", level=UnitLevel.county, business_hours=ALWAYS_OPEN)
        dept = await make_department(s, name="市场监管")
        items = [await make_item(s, department=dept, units=[county], name=f"事项{i}") for i in range(lines)]
        pw = _default_hash()
        staff = [Staff(username=f"bench{i}", display_name=f"帮办{i}", password_hash=pw, role=Role.agent,
                       unit_id=county.id, capacity=1, kb_editor=False, is_active=True, created_at=T0)
                 for i in range(agents)]
        s.add_all(staff)
        await s.flush()
        s.add_all(StaffSkill(staff_id=st.id, item_id=items[i % lines].id, department_id=None)
                  for i, st in enumerate(staff))
        people = [Applicant(name=f"申请人{i}", created_at=T0) for i in range(applicants)]
        s.add_all(people)
        await s.flush()
        now = datetime.now(UTC)
        orders = [WorkOrder(number=f"B{i:09d}", applicant_id=person.id, item_id=items[i % lines].id,
                            unit_id=county.id, status=WorkOrderStatus.queued, channel=Channel.video, priority=0,
                            queued_at=now, created_at=now, updated_at=now) for i, person in enumerate(people)]
        s.add_all(orders)  # one batch: what create_request does, minus its per-row event
        await s.flush()
        entries = [WaitingEntry(ticket=wo.applicant_id, work_order_id=wo.id, unit_chain=[county.id, city.id],
                                item_id=wo.item_id, department_id=dept.id, enqueued_at=now.timestamp() - applicants + i)
                   for i, wo in enumerate(orders)]
        await s.commit()
        out = {"county": county.code, "items": [it.code for it in items],
               "staff": [(st.id, st.password_hash[-12:]) for st in staff], "applicants": [a.id for a in people],
               "rooms": {e.work_order_id: i for i, e in enumerate(entries)}}
    await engine.dispose()
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisQueueStore(client, prefix=prefix)
    for entry in entries:
        await store.add_entry(entry)
    t = time.time()
    rng = random.Random(7)
    await client.zadd(prefix + "q:due", {f"a:{e.ticket}": t + rng.uniform(0, grace_s / 2) for e in entries})
    await client.aclose()
    return out
