"""Phone numbers are shown masked (138****5678) to everyone but the agent handling the work order, and
masked in every log line."""

from __future__ import annotations

import logging
import re
from typing import Any

# Mainland mobile numbers and landlines with an area code, standing alone: not inside ids, numbers
# or hex hashes (Chinese text around them is fine: "电话13812345678").
PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])"
                           r"|(?<![0-9A-Za-z])(0\d{2,3})-?\d{3,4}(\d{4})(?![0-9A-Za-z])")


def mask_phone(phone: str | None) -> str | None:
    """Keeps the first three and last four digits (enough to recognise, not to dial)."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(phone)
    return "".join(digits[:3]) + "*" * (len(digits) - 7) + "".join(digits[-4:])


def mask_in_text(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        head, tail = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return f"{head}****{tail}"

    return PHONE_IN_TEXT.sub(one, text)


def is_handling_agent(staff: Any, wo: Any) -> bool:
    """Who may see the full number: the agent of the call or the owner of the follow-up."""
    return staff is not None and staff.id in (wo.agent_id, wo.owner_id)


def phone_for(staff: Any, wo: Any, phone: str | None) -> str | None:
    return phone if is_handling_agent(staff, wo) else mask_phone(phone)


class PhoneMaskFilter(logging.Filter):
    """Masks numbers in every record's message before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_in_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
