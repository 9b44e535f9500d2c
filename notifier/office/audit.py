"""The audit history: every action of the office pages and the ``user`` command, with who."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from notifier.db.engine import utcnow
from notifier.db.models import AuditEntry


def record(s: Session, actor: str, action: str, detail: str = "", *, milestone_id: int | None = None,
           task_id: int | None = None, now: datetime | None = None) -> AuditEntry:
    entry = AuditEntry(at=now or utcnow(), actor=actor, action=action, detail=detail[:2000],
                       milestone_id=milestone_id, task_id=task_id)
    s.add(entry)
    s.flush()
    return entry


ACTIONS = {
    "login": "登录", "logout": "退出", "login_failed": "登录失败", "done": "标记完成", "reopen": "重新打开",
    "extend": "延期", "pause": "暂停", "resume": "恢复", "resend": "重发提醒", "import": "导入方案",
    "user_add": "新增用户", "user_disable": "停用用户", "user_passwd": "修改密码", "export": "导出",
    "review_approve": "通过办结申请", "review_return": "退回办结申请", "sign": "代签收（电话）",
}
