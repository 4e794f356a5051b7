"""Whether an outcome fits the marks: pass needs every point passed; rectify needs points to fix
and a deadline within a year."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from helpdesk_inspection.errors import InspectionError
from helpdesk_inspection.models import InspectionOutcome, MarkResult, PointMark

BEIJING = timezone(timedelta(hours=8))


def check_outcome(
    point_keys: list[str],
    marks: dict[str, PointMark],
    outcome: InspectionOutcome,
    deadline: datetime | None,
    now: datetime,
) -> tuple[list[str], datetime | None]:
    """Returns (points to fix, deadline as aware datetime; a naive one is Beijing time) or raises."""
    to_fix = [k for k in point_keys if k in marks and marks[k].result != MarkResult.passed]
    if deadline is not None and deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=BEIJING)
    if outcome == InspectionOutcome.passed:
        unmarked = [k for k in point_keys if k not in marks]
        if unmarked or to_fix:
            raise InspectionError(f"pass needs every point marked pass; open: {unmarked + to_fix}", 409, "points_open")
    elif outcome == InspectionOutcome.rectify:
        if not to_fix:
            raise InspectionError("rectification needs a point marked fail or rectify", 409, "nothing_to_rectify")
        if deadline is None or deadline <= now:
            raise InspectionError("rectification needs a deadline in the future", code="bad_deadline")
        if deadline > now + timedelta(days=365):
            raise InspectionError("the rectification deadline is more than a year away", code="bad_deadline")
    return to_fix, deadline
