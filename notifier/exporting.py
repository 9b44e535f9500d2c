"""Stored tasks and milestones -> a task table (.xlsx or .csv) in the layout the importer reads,
so an admin can fix a plan in a spreadsheet and import it again without losing anything.

The table is inert: plan text and notes come from documents and from reply links anyone
holding a forwarded e-mail can use, so a cell that a spreadsheet would run as a formula
(starting with ``= + - @``, tab or CR) is written as text: with a leading ``'`` in CSV
(the importer drops it again), as a string cell in .xlsx. Control characters, which
.xlsx cannot hold, are left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from notifier.db.engine import transaction
from notifier.db.models import Department, Plan, Task, TaskDepartment
from notifier.importing.encoding import strip_controls
from notifier.terms import ROLES, MilestoneStatus

HEADER = ["序号", "工作任务", "牵头单位", "责任单位", "配合单位", "完成时限", "节点内容", "状态", "备注"]
# 状态 and 备注 are for the reader; the importer ignores them (done marks survive a
# re-import anyway, because milestones are matched by text and date).


class ExportError(Exception):
    pass


# What Excel, LibreOffice and Google Sheets read as the start of a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: str) -> str:
    """``value`` without control characters, with a ``'`` in front when a spreadsheet
    would otherwise run it as a formula (the CSV convention for "this is text")."""
    value = strip_controls(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def recurrence_phrase(rule: str) -> str:
    if rule.startswith("monthly:"):
        return f"每月{int(rule.split(':', 1)[1])}日前"
    return {"quarterly": "每季度", "semiannual": "每半年"}[rule]


def plan_rows(engine: Engine, plan_name: str | None) -> tuple[str, list[list[str]]]:
    with transaction(engine) as s:
        plans = list(s.scalars(select(Plan).order_by(Plan.id)))
        if plan_name:
            plans = [p for p in plans if plan_name in (p.name, p.doc_number)] or \
                [p for p in plans if plan_name in p.name]
        if not plans:
            raise ExportError(f"no plan {plan_name!r}" if plan_name else "no plan imported yet")
        if len(plans) > 1:
            raise ExportError("several plans match; name one with --plan: "
                              + "; ".join(f"{p.name} ({p.doc_number or p.year})" for p in plans))
        plan = plans[0]
        names: dict[tuple[int, str], list[str]] = {}
        for tid, role, name in s.execute(
                select(TaskDepartment.task_id, TaskDepartment.role, Department.name)
                .join(Department).join(Task, Task.id == TaskDepartment.task_id)
                .where(Task.plan_id == plan.id).order_by(TaskDepartment.position)):
            names.setdefault((tid, role), []).append(name)
        rows = []
        for task in plan.tasks:
            depts = ["、".join(names.get((task.id, r), [])) for r in ROLES]
            for m in task.milestones:
                due = recurrence_phrase(m.recurrence) if m.recurrence else m.due_on.isoformat()
                # Continuation rows repeat the task: a spreadsheet sort cannot orphan them.
                rows.append([task.number, task.text or task.title, *depts, due, m.text,
                             "已完成" if m.status == MilestoneStatus.DONE else "", m.note or ""])
        title = plan.name
    return title, rows


def export_plan(engine: Engine, path: Path, plan_name: str | None = None) -> int:
    title, rows = plan_rows(engine, plan_name)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens it as UTF-8
            w = csv.writer(f)
            w.writerow([inert(title)])
            w.writerow(HEADER)
            w.writerows([inert(c) for c in row] for row in rows)
    elif suffix == ".xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        wb = Workbook()
        ws = wb.active
        ws.title = "任务分解表"
        ws.append([strip_controls(title)])
        ws["A1"].data_type = "s"  # a string cell even when it starts with "="
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(HEADER)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for r, row in enumerate(rows, start=3):
            for c, value in enumerate(row, start=1):
                # openpyxl stores a str starting with "=" as a formula unless told otherwise.
                ws.cell(r, c, strip_controls(value)).data_type = "s"
        for col, width in zip("ABCDEFGHI", (8, 50, 20, 20, 20, 14, 40, 8, 20), strict=True):
            ws.column_dimensions[col].width = width
        for row in ws.iter_rows(min_row=3):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A3"
        wb.save(path)
    else:
        raise ExportError(f"{path}: write .xlsx or .csv")
    return len(rows)
