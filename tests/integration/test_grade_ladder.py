"""The grade ladder (蓝 提醒 -> 黄 催办 -> 红 督办) and 签收, lived day by day with pinned time:
a 09:00 pass every day, its messages delivered to the real SMTP test server, and each message
checked as it arrives (subject word, colour band, sentences, recipients)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from notifier import config as config_mod
from notifier import signing
from notifier.cli import deliver
from notifier.db.engine import transaction
from notifier.db.models import Department, GradeStep, Milestone
from notifier.importing.model import MilestoneSpec, PlanSpec, TaskSpec
from notifier.importing.store import store_plan
from notifier.reminders import run_pass
from notifier.rendering import Renderer

from tests.support.database import migrated
from tests.support.servers import SMTPServer

TZ = ZoneInfo("Asia/Shanghai")
OFFICE, FGW, NW = "市政府督查室", "市发展和改革委员会", "市农村经济委员会"
ADDRESS = {OFFICE: "office@example.gov.cn", FGW: "fgw@example.gov.cn", NW: "nw@example.gov.cn"}


class Year:
    """A plan of 2025 and a daily pass; ``mail[day]`` holds the parsed messages of that day."""

    def __init__(self, tmp_path: Path, smtp: SMTPServer, tasks: list[TaskSpec], **grades: int):
        data = {
            "database": {"url": f"sqlite:///{tmp_path}/n.db"},
            # One reminder, 7 days ahead (the 蓝 window's day), and no cutoff before the items.
            "schedule": {"lead_days": [7], "overdue_every_days": 3, "stagger_seconds": 0, "cutoff_months": [12]},
            "grades": {"lead_days": 7, "sign_within_days": 2, **grades},
            "escalation": {"to": [OFFICE]},
            "email": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "from": "notifier@example.gov.cn"},
            "departments": [{"name": n, "email": [a]} for n, a in ADDRESS.items()],
        }
        self.cfg = config_mod.parse(data, tmp_path / "config.toml")
        self.engine = migrated(self.cfg.database_url)
        spec = PlanSpec(name="测试市2025年重点工作实施方案", year=2025, starts_on=date(2025, 1, 1),
                        ends_on=date(2025, 12, 31), doc_number="测政办发〔2025〕1号", tasks=tasks, source_hash="h")
        with transaction(self.engine) as s:
            store_plan(s, spec, self.cfg)
        self.smtp = smtp
        self.renderer = Renderer.of(self.cfg)
        self.mail: dict[date, list] = defaultdict(list)

    def live(self, first: date, last: date) -> None:
        day = first
        while day <= last:
            now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ)
            before = len(self.smtp.received)
            if run_pass(self.engine, self.cfg, self.renderer, now).queued:
                deliver(self.engine, self.cfg, now.astimezone(UTC).replace(tzinfo=None))
            self.mail[day] += self.smtp.received[before:]
            day += timedelta(days=1)

    def to(self, name: str, day: date) -> list:
        return [r.parsed for r in self.mail[day] if r.rcpt == ADDRESS[name]]

    def ids(self, text: str, department: str) -> tuple[int, int]:
        with transaction(self.engine) as s:
            return (s.scalar(select(Milestone.id).where(Milestone.text == text)),
                    s.scalar(select(Department.id).where(Department.name == department)))

    def sign(self, text: str, department: str, occurrence: date, at: datetime) -> int:
        mid, dep = self.ids(text, department)
        with transaction(self.engine) as s:
            return signing.sign(s, department_id=dep, milestone_id=mid, occurrence=occurrence, by="办公室张三",
                                at=at.astimezone(UTC).replace(tzinfo=None))


def _task(number: str, lead: str, due: date, text: str) -> TaskSpec:
    return TaskSpec(number=number, title=f"任务{number}", lead=[lead],
                    milestones=[MilestoneSpec(due=due, text=text)])


def _parts(msg) -> tuple[str, str, str]:  # noqa: ANN001
    return (str(msg["Subject"]), msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content())


@pytest.fixture
def smtp():  # noqa: ANN201
    server = SMTPServer()
    yield server
    server.stop()


def test_one_item_walks_up_the_whole_ladder_blue_yellow_red_one_message_each(tmp_path: Path, smtp) -> None:  # noqa: ANN001
    """Due Wednesday 2025-07-16, never signed for, never answered: 蓝 with its 7-day reminder
    (07-09), 黄 when the 签收 is two working days late (Monday 07-14, a message of its own), 红
    the day after its date (07-17), copied to the supervision office in its 逾期通报 that day."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), "完成港口一期")])
    y.live(date(2025, 7, 1), date(2025, 7, 23))
    days = sorted(d for d, got in y.mail.items() if any(r.rcpt == ADDRESS[FGW] for r in got))
    # ... and then its overdue cadence, every 3 working days: no step, a plain reminder.
    assert days == [date(2025, 7, 9), date(2025, 7, 14), date(2025, 7, 17), date(2025, 7, 22)]
    assert str(y.to(FGW, date(2025, 7, 22))[0]["Subject"]).startswith("【督办提醒】")

    [blue] = y.to(FGW, date(2025, 7, 9))
    subject, text, html = _parts(blue)
    assert subject.startswith("【提醒】市发展和改革委员会")
    assert "【蓝色提醒单】以下事项即将到期" in text and "#1565C0" in html and "蓝色提醒单" in html
    assert "请于2025年7月11日前签收" in text  # two working days after Wednesday 07-09

    [yellow] = y.to(FGW, date(2025, 7, 14))
    subject, text, html = _parts(yellow)
    assert subject.startswith("【催办】市发展和改革委员会") and "1项未按时签收或报送进展" in subject
    assert "【黄色催办单】" in text and "#F9A825" in html
    assert "【催办：未按时签收或报送进展】（1项）" in text and "未按时签收" in text

    [red] = y.to(FGW, date(2025, 7, 17))
    subject, text, html = _parts(red)
    assert subject.startswith("【督办】市发展和改革委员会") and "1项已逾期" in subject
    assert "【红色督办单】以下事项已逾期未完成，现予督办" in text and "#C62828" in html
    assert "本单抄报市政府督查室" in text
    # The copy: the office's 逾期通报 of that day marks the item as newly 督办.
    [copy] = y.to(OFFICE, date(2025, 7, 17))
    subject, text, _ = _parts(copy)
    assert subject.startswith("【逾期通报】1项") and "完成港口一期" in text and "新列入红色督办" in text
    # The office's next 逾期通报 lists the item again, no longer as newly 督办.
    [later] = y.to(OFFICE, date(2025, 7, 22))
    assert "完成港口一期" in _parts(later)[1] and "新列入红色督办" not in _parts(later)[1]
    # Nothing more is said of the steps: one row each, the copy included.
    with transaction(y.engine) as s:
        grades = [(g.grade, g.department_id) for g in s.scalars(select(GradeStep).order_by(GradeStep.id))]
    fgw, office = y.ids("完成港口一期", FGW)[1], y.ids("完成港口一期", OFFICE)[1]
    assert sorted(grades) == sorted([("blue", fgw), ("yellow", fgw), ("red", fgw), ("red", office)])


def test_an_unsigned_reminder_steps_up_to_yellow_and_a_signed_one_does_not(tmp_path: Path, smtp) -> None:  # noqa: ANN001
    """Both departments get their 7-day reminder on 07-09; 市农委 signs for it on 07-11 (in
    time: the last day), 市发改委 never does: only 市发改委 gets the 催办 on 07-14."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), "完成港口一期"),
                              _task("2", NW, date(2025, 7, 16), "完成农田整治")])
    y.live(date(2025, 7, 7), date(2025, 7, 10))
    assert [len(y.to(n, date(2025, 7, 9))) for n in (FGW, NW)] == [1, 1]
    assert y.sign("完成农田整治", NW, date(2025, 7, 16), datetime(2025, 7, 11, 16, 0, tzinfo=TZ)) == 1
    y.live(date(2025, 7, 11), date(2025, 7, 15))
    assert [len(y.to(FGW, d)) for d in (date(2025, 7, 11), date(2025, 7, 14))] == [0, 1]
    assert all(not y.to(NW, d) for d in (date(2025, 7, 11), date(2025, 7, 14), date(2025, 7, 15)))
    with transaction(y.engine) as s:
        late = signing.unsigned(s, today=date(2025, 7, 14))
    assert [r.milestone_id for r in late] == [y.ids("完成港口一期", FGW)[0]]


def test_a_longer_sign_window_moves_the_yellow_step(tmp_path: Path, smtp) -> None:  # noqa: ANN001
    """sign_within_days = 3: asked Wednesday 07-09, in time through Monday 07-14, 黄 on 07-15."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), "完成港口一期")], sign_within_days=3)
    y.live(date(2025, 7, 9), date(2025, 7, 15))
    assert [bool(y.to(FGW, date(2025, 7, d))) for d in (9, 10, 11, 14, 15)] == [True, False, False, False, True]
    assert str(y.to(FGW, date(2025, 7, 15))[0]["Subject"]).startswith("【催办】")


def test_a_step_up_on_a_day_that_has_a_message_joins_it(tmp_path: Path, smtp) -> None:  # noqa: ANN001
    """On Monday 07-14 the 催办 of the item due 07-16 and the 7-day reminder of the item due
    07-21 go out for 市发改委 as one message, written in the higher grade (催办)."""
    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), "完成港口一期"),
                              _task("2", FGW, date(2025, 7, 21), "完成港口二期")])
    y.live(date(2025, 7, 9), date(2025, 7, 14))
    [msg] = y.to(FGW, date(2025, 7, 14))
    subject, text, _ = _parts(msg)
    assert subject.startswith("【催办】") and "1项节点即将到期" in subject
    assert "完成港口一期" in text and "完成港口二期" in text and "【黄色催办单】" in text


def test_status_milestones_history_and_the_ledger_export_show_the_grades_and_who_has_not_signed(
        tmp_path: Path, smtp) -> None:  # noqa: ANN001
    """After the 催办 of 07-14: status counts the item 黄 and names 市发改委 as not signed for it
    (text and JSON); milestones shows [黄]; history lists the steps; the ledger export says 黄."""
    from io import BytesIO

    from openpyxl import load_workbook

    from notifier.cli import milestone_line, status_json, status_lines
    from notifier.office.exports import ledger_xlsx
    from notifier.office.ledger import load_rows
    from notifier.status import milestone_rows, status_report, step_rows

    y = Year(tmp_path, smtp, [_task("1", FGW, date(2025, 7, 16), "完成港口一期")])
    y.live(date(2025, 7, 9), date(2025, 7, 14))
    now = datetime(2025, 7, 14, 10, 0, tzinfo=TZ)
    report = status_report(y.engine, y.cfg, now)
    assert report.grades == {"red": 0, "yellow": 1, "blue": 0, "green": 0}
    [late] = report.not_signed
    assert (late.department, late.text, late.asked_on, late.sign_by) == (FGW, "完成港口一期", date(2025, 7, 9),
                                                                         date(2025, 7, 11))
    text = "\n".join(status_lines(report))
    assert "黄（滞后催办）1" in text and "未按时签收（1项）" in text and "应于2025-07-11前签收" in text
    data = status_json(report)
    assert data["grades"]["yellow"] == 1 and data["not_signed"][0]["department"] == FGW

    [row] = milestone_rows(y.engine, y.cfg, date(2025, 7, 14))
    assert row.grade == "yellow" and "[黄]" in milestone_line(row, None)

    steps = step_rows(y.engine, y.cfg)
    assert [(st.grade, st.department, st.on) for st in steps] == [("yellow", FGW, date(2025, 7, 14)),
                                                                   ("blue", FGW, date(2025, 7, 9))]

    with transaction(y.engine) as s:
        rows = load_rows(s, y.cfg, date(2025, 7, 14))
    sheet = load_workbook(BytesIO(ledger_xlsx(rows))).active
    assert "黄（滞后催办）" in [c.value for c in sheet[2]]
