"""Checklist versions keep stable keys; outcome rules accept naive deadlines as Beijing time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpdesk_inspection.checklists import normalise_points
from helpdesk_inspection.errors import InspectionError
from helpdesk_inspection.models import InspectionOutcome, MarkResult, PointMark
from helpdesk_inspection.outcomes import BEIJING, check_outcome
from helpdesk_inspection.schemas import PointIn

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def test_keys_are_stable_and_unique() -> None:
    v1 = normalise_points([PointIn(title="甲"), PointIn(title="乙")])
    assert [p["key"] for p in v1] == ["P1", "P2"]
    v2 = normalise_points([PointIn(title="丙"), PointIn(title="乙")], previous=v1)
    assert [p["key"] for p in v2] == ["P3", "P2"]  # 乙 keeps P2; 丙 gets a new key, never P1's
    with pytest.raises(InspectionError) as err:
        normalise_points([PointIn(key="A", title="x"), PointIn(key="A", title="y")])
    assert err.value.code == "invalid_checklist"


def test_outcome_rules() -> None:
    marks = {
        "A": PointMark(point_key="A", result=MarkResult.passed),
        "B": PointMark(point_key="B", result=MarkResult.failed),
    }
    with pytest.raises(InspectionError):
        check_outcome(["A", "B"], marks, InspectionOutcome.passed, None, NOW)
    naive = datetime(2026, 12, 7, 23, 59)
    to_fix, deadline = check_outcome(["A", "B"], marks, InspectionOutcome.rectify, naive, NOW)
    assert to_fix == ["B"] and deadline == naive.replace(tzinfo=BEIJING)
    with pytest.raises(InspectionError):
        check_outcome(["A", "B"], marks, InspectionOutcome.rectify, NOW + timedelta(days=400), NOW)
    assert check_outcome(["A", "B", "C"], marks, InspectionOutcome.failed, None, NOW) == (["B"], None)
