"""Messages to applicants (SMS/IM through the bureau's gateway): shipped zh-CN/en templates an admin
may reword, written to the outbox in the step's transaction and sent by the sender."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk.applicants.models import Applicant
from helpdesk.errors import BadRequest
from helpdesk.integration.models import ApplicantMessage, MessageTemplate
from helpdesk.org.models import ServiceItem
from helpdesk.workorders.models import WorkOrder

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "callback_scheduled": {
        "zh-CN": "【视频帮办】您关于“{item}”的回电预约已登记（工单 {number}），工作人员将在{when}联系您。",
        "en": "[Video help] Your call-back request about \"{item}\" is registered (work order {number}); "
              "we will call you {when}.",
    },
    "callback_missed": {
        "zh-CN": "【视频帮办】工作人员按预约给您回电未能接通（工单 {number}），我们会再次联系您。",
        "en": "[Video help] We called you back but could not reach you (work order {number}); we will try again.",
    },
    "work_order_result": {
        "zh-CN": "【视频帮办】您的工单 {number}（{item}）已处理：{outcome}。",
        "en": "[Video help] Your work order {number} ({item}) has been handled: {outcome}.",
    },
    "verification_code": {
        "zh-CN": "【视频帮办】您的验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。",
        "en": "[Video help] Your code is {code}, valid for {minutes} minutes. Do not share it.",
    },
}
FIELDS = {"callback_scheduled": {"item", "number", "when"}, "callback_missed": {"number", "item"},
          "work_order_result": {"number", "item", "outcome"}, "verification_code": {"code", "minutes"}}
OUTCOME_WORDS = {"zh-CN": {"resolved": "已解决", "unresolved": "未解决，我们会继续跟进"},
                 "en": {"resolved": "resolved", "unresolved": "not yet resolved; we will follow up"}}
LANGUAGES = ("zh-CN", "en")


def check_template(key: str, body: str) -> None:
    """An admin's wording may only use the fields the message has (a typo would fail at send time)."""
    if key not in DEFAULT_TEMPLATES:
        raise BadRequest(f"unknown message template {key!r}", code="unknown_template")
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(body) if name}
    except ValueError as exc:
        raise BadRequest(f"template is not valid: {exc}", code="bad_template") from exc
    if unknown := used - FIELDS[key]:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: {sorted(FIELDS[key])}", code="bad_template")


async def template_body(session: AsyncSession, key: str, language: str) -> str:
    language = language if language in LANGUAGES else "zh-CN"
    row = await session.scalar(select(MessageTemplate).where(MessageTemplate.key == key,
                                                             MessageTemplate.language == language))
    return row.body if row else DEFAULT_TEMPLATES[key][language]


async def enqueue(session: AsyncSession, *, phone: str, key: str, language: str, fields: dict[str, Any],
                  now: datetime, work_order_id: str | None = None) -> ApplicantMessage:
    body = (await template_body(session, key, language)).format_map(fields)
    row = ApplicantMessage(work_order_id=work_order_id, phone=phone, template=key, language=language, body=body,
                           status="pending", next_attempt_at=now, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def capture(session: AsyncSession, wo: WorkOrder, *, kind: str, data: dict[str, Any], now: datetime) -> None:
    """The messages a timeline entry triggers, for work orders that have a phone to write to."""
    key = _message_for(wo, kind, data)
    if key is None:
        return
    applicant = await session.get(Applicant, wo.applicant_id)
    phone = wo.callback_phone or (applicant.phone if applicant else None)
    if not phone:
        return
    language = (applicant.language if applicant else None) or "zh-CN"
    language = language if language in LANGUAGES else "zh-CN"
    item = await session.get(ServiceItem, wo.item_id)
    item_name = (item.name_en or item.name) if item and language == "en" else (item.name if item else "")
    outcome = OUTCOME_WORDS[language].get("resolved" if kind == "resolved" else str(data.get("outcome")), "")
    when = data.get("preferred_time") or ("工作时间内" if language == "zh-CN" else "during opening hours")
    await enqueue(session, phone=phone, key=key, language=language, now=now, work_order_id=wo.id,
                  fields={"item": item_name, "number": wo.number, "when": when, "outcome": outcome})


def _message_for(wo: WorkOrder, kind: str, data: dict[str, Any]) -> str | None:
    if kind == "callback_requested":
        return "callback_scheduled"
    if kind == "callback_missed" or (kind == "called_back" and not data.get("reached")):
        return "callback_missed"
    # Results go to those who are not in a call to hear them: call-backs and hand-ins.
    if wo.callback_phone and (kind == "resolved" or (kind == "wrapped_up" and data.get("outcome") in
                                                     ("resolved", "unresolved", "follow_up"))):
        return "work_order_result"
    return None
