"""A work order's timeline in words, for partners and people (never raw event names or JSON)."""

from __future__ import annotations

from typing import Any

from helpdesk.workorders.models import WorkOrderEvent

WORDS: dict[str, tuple[str, str]] = {
    "queued": ("申请人排队等候视频帮办", "The applicant joined the queue for video help"),
    "callback_requested": ("登记了回电预约", "A call back was requested"),
    "offered": ("呼叫已分配给工作人员", "The call was offered to an agent"),
    "offer_revoked": ("工作人员未接，重新排队", "The agent did not take the call; back in the queue"),
    "answered": ("工作人员接通了视频", "An agent answered"),
    "fallback": ("转由上级大厅接待", "Taken over by the desk one level up"),
    "ended": ("通话结束", "The call ended"),
    "wrapped_up": ("工作人员完成了工单小结", "The agent wrapped up the work order"),
    "abandoned": ("申请人离开了队列", "The applicant left the queue"),
    "transfer_requested": ("转给其他大厅或同事", "Transferred to another desk or colleague"),
    "transfer_note": ("转接说明", "Transfer note"),
    "rated": ("申请人评价了服务", "The applicant rated the call"),
    "file_shared": ("发送了文件", "A file was shared"),
    "kb_article_sent": ("发送了办事指南", "A service guide was sent"),
    "note": ("添加了备注", "A note was added"),
    "claimed": ("工单已认领", "The work order was claimed"),
    "called_back": ("已回电", "The applicant was called back"),
    "callback_missed": ("回电未接通", "The call back did not reach the applicant"),
    "reminded": ("提醒认领", "Reminder to claim"),
    "flagged_red": ("超时未认领，标红督办", "Flagged red: not claimed in time"),
    "escalated": ("升级督办", "Escalated"),
    "overdue": ("超过办结期限", "Past the resolution deadline"),
    "resolved": ("问题已解决", "Resolved"),
    "reassigned": ("改派他人处理", "Reassigned"),
    "peer_dropped": ("一方网络中断", "A participant's connection dropped"),
    "peer_resumed": ("一方重新连接", "A participant reconnected"),
    "peer_expired": ("一方未能重新连接", "A participant did not come back"),
    "inspection_passed": ("远程勘验通过", "Remote inspection passed"),
    "inspection_failed": ("远程勘验未通过", "Remote inspection failed"),
    "inspection_rectify": ("远程勘验：需整改", "Remote inspection: to be rectified"),
    "handed_in": ("由外部系统转来（如 12345 热线）", "Handed in by another system (e.g. the 12345 hotline)"),
}
OUTCOMES = {"resolved": ("已解决", "resolved"), "unresolved": ("未解决", "unresolved"),
            "follow_up": ("需跟进", "follow-up"), "transferred": ("已转办", "transferred"),
            "callback": ("待回电", "call back")}


def actor_kind(actor: str) -> str:
    return {"a": "applicant", "s": "staff", "t": "partner"}.get(actor.split(":", 1)[0], "system")


def describe(event: WorkOrderEvent) -> dict[str, Any]:
    zh, en = WORDS.get(event.kind, (event.kind, event.kind.replace("_", " ")))
    data = event.data or {}
    if event.kind == "wrapped_up" and (o := OUTCOMES.get(str(data.get("outcome")))):
        zh, en = f"{zh}：{o[0]}", f"{en}: {o[1]}"
    if event.kind == "rated" and data.get("rating"):
        zh, en = f"{zh}（{data['rating']} 星）", f"{en} ({data['rating']} stars)"
    if event.kind == "escalated" and data.get("level"):
        zh, en = f"{zh}（第 {data['level']} 级）", f"{en} (level {data['level']})"
    return {"seq": event.seq, "at": event.at.isoformat(), "kind": event.kind, "by": actor_kind(event.actor),
            "text": {"zh-CN": zh, "en": en}}
