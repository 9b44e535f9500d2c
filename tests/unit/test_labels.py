"""The office's Chinese words (notifier.labels): one per member, the same on every surface."""

from __future__ import annotations

from enum import StrEnum

import pytest

from notifier import labels
from notifier.terms import (DeliveryStatus, DigestKind, HistoryAction, MilestoneStatus, PlanStatus, RequestState, Role,
                            Source)

TABLES: list[tuple[type[StrEnum], dict[str, str]]] = [
    (MilestoneStatus, labels.MILESTONE_STATUS), (Role, labels.ROLE), (HistoryAction, labels.HISTORY_ACTION),
    (Source, labels.SOURCE), (RequestState, labels.REQUEST_STATE), (DigestKind, labels.DIGEST_KIND),
    (PlanStatus, labels.PLAN_STATUS), (DeliveryStatus, labels.DELIVERY_STATUS)]


@pytest.mark.parametrize(("enum", "table"), TABLES, ids=[e.__name__ for e, _ in TABLES])
def test_every_member_has_its_own_chinese_word(enum: type[StrEnum], table: dict[str, str]) -> None:
    assert set(table) == set(enum)
    assert len(set(table.values())) == len(table)  # no two members read the same

