"""The office's Chinese word for each stored code: one word per member, the same on every
surface that shows it (the CLI, the ledger's pages, the department's page, the exports, the
messages). The database, JSON output and templates' conditions keep the codes (``terms.py``).

Each table is keyed by the members of one enum, and typed ``dict[str, str]`` because the rows
they label may carry the stored string; ``tests/unit/test_labels.py`` checks that every member
has its word and that no two members of an enum share one. A grade (``terms.Light``) carries its
words as properties (``label``, ``meaning``, ``word``) because templates read them from the member.
"""

from __future__ import annotations

from notifier.terms import (DeliveryStatus, DigestKind, HistoryAction, MilestoneStatus, PlanStatus, RequestState, Role,
                            Source)

MILESTONE_STATUS: dict[str, str] = {MilestoneStatus.OPEN: "未办结", MilestoneStatus.DONE: "已办结"}
ROLE: dict[str, str] = {Role.LEAD: "牵头", Role.RESPONSIBLE: "责任", Role.COOPERATING: "配合"}
HISTORY_ACTION: dict[str, str] = {HistoryAction.DONE: "办结", HistoryAction.REOPEN: "重新打开",
                                  HistoryAction.PROGRESS: "报送进展", HistoryAction.REQUEST: "申请办结",
                                  HistoryAction.RETURN: "退回办结申请"}
SOURCE: dict[str, str] = {Source.CLI: "命令行", Source.IMPORT: "导入", Source.LINK: "回复链接",
                          Source.OFFICE: "督办台账", Source.PAGE: "单位页面"}
REQUEST_STATE: dict[str, str] = {RequestState.PENDING: "待审核", RequestState.APPROVED: "已通过",
                                 RequestState.RETURNED: "已退回"}
# README's glossary: an escalation is the 逾期通报 (and closing report) to the office.
DIGEST_KIND: dict[str, str] = {DigestKind.REMINDER: "提醒", DigestKind.ESCALATION: "逾期通报",
                               DigestKind.NOTICE: "联系方式失效通知", DigestKind.REPORT: "通报"}
PLAN_STATUS: dict[str, str] = {PlanStatus.ACTIVE: "进行中", PlanStatus.CLOSED: "已结束"}
DELIVERY_STATUS: dict[str, str] = {DeliveryStatus.PENDING: "待发送", DeliveryStatus.SENDING: "发送中",
                                   DeliveryStatus.SENT: "已发送", DeliveryStatus.FAILED: "发送失败"}
