"""The ledger and the 通报 as files: .xlsx (openpyxl, the light as the cell's fill) and .docx
(python-docx). Every text cell is inert: a value starting with = + - @ (or a tab/CR) is written
as a string, never as a formula, so a task text cannot run anything in Excel or WPS."""

from __future__ import annotations

import io
from copy import copy
from datetime import date

from notifier.office.ledger import Row
from notifier.office.report import Report, percent
from notifier import labels

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LEDGER_HEADER = ["方案", "文号", "任务序号", "任务", "节点内容", "牵头单位", "责任单位", "配合单位", "完成时限",
                 "原定时限", "状态", "督办灯", "最近反馈", "反馈日期", "逾期天数", "暂停"]


def _put(ws, row: int, col: int, value):  # noqa: ANN001, ANN202
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"  # openpyxl took it for a formula; keep it text
    return cell


def _sheet_rows(ws, header: list[str], rows: list[list], widths: list[int]) -> None:  # noqa: ANN001
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for c, h in enumerate(header, 1):
        _put(ws, 1, c, h).font = Font(bold=True)
    styles, wrap = _StyleCache(), Alignment(wrap_text=True, vertical="top")
    for r, values in enumerate(rows, 2):
        for c, v in enumerate(values, 1):
            styles.apply(_put(ws, r, c, v), "wrap", alignment=wrap)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"


def ledger_xlsx(rows: list[Row]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "督办台账"
    values = []
    for r in rows:
        it, last = r.item, r.last_answer
        values.append([it.plan_name, it.doc_number, it.task_number, it.task_title, it.text,
                       "、".join(it.names("lead")), "、".join(it.names("responsible")),
                       "、".join(it.names("cooperating")), it.due, it.first_due or "",
                       "已完成" if it.done else "未完成", f"{r.light.label}（{r.light.meaning}）",
                       (last.note or labels.HISTORY_ACTION.get(last.action, last.action)) if last else "",
                       last.on if last else "", r.days_late or "", f"暂停至{r.pause.ends_on}" if r.pause else ""])
    _sheet_rows(ws, LEDGER_HEADER, values, [24, 18, 8, 30, 40, 16, 16, 16, 12, 12, 8, 10, 30, 12, 8, 14])
    light_col = LEDGER_HEADER.index("督办灯") + 1
    styles = _StyleCache()
    for i, r in enumerate(rows, 2):
        styles.apply(ws.cell(row=i, column=light_col), r.light,
                     fill=PatternFill("solid", start_color=r.light.rgb, end_color=r.light.rgb))
        for col in (9, 10, 14):
            styles.apply(ws.cell(row=i, column=col), "date", number_format="yyyy-mm-dd")
    return _save(wb)


class _StyleCache:
    """Give many cells one style: set it on the first, copy its style record to the others.
    Setting ``.fill``/``.alignment``/``.number_format`` hashes the style on every cell, which made
    a 10,000-row ledger take 20 s; copying the record is what openpyxl does internally."""

    def __init__(self) -> None:
        self._styles: dict[object, object] = {}

    def apply(self, cell, key: object, **attrs: object) -> None:  # noqa: ANN001
        if key in self._styles:
            cell._style = copy(self._styles[key])
            return
        for name, value in attrs.items():
            setattr(cell, name, value)
        self._styles[key] = copy(cell._style)


REPORT_HEADER = ["排名", "单位", "应完成", "按时完成", "逾期完成", "逾期未完成", "按时完成率"]


def _report_table(report: Report) -> list[list]:
    rows = [[x.rank or "—", x.name, x.due, x.on_time, x.late, x.overdue, percent(x.on_time_rate)] for x in report.lines]
    t = report.totals
    rows.append(["", t.name, t.due, t.on_time, t.late, t.overdue, percent(t.on_time_rate)])
    return rows


def _overdue_table(report: Report) -> list[list]:
    return [[x.name, it.task_number, it.task_title, it.text, it.due, (report.made_on - it.due).days]
            for x in report.lines for it in x.overdue_items]


OVERDUE_HEADER = ["单位", "任务序号", "任务", "节点内容", "完成时限", "逾期天数"]


def report_title(report: Report) -> str:
    return f"重点工作督办情况通报（{report.period.label}）"


def report_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "通报"
    _sheet_rows(ws, REPORT_HEADER, _report_table(report), [6, 24, 8, 10, 10, 10, 12])
    ws2 = wb.create_sheet("逾期事项")
    _sheet_rows(ws2, OVERDUE_HEADER, _overdue_table(report), [20, 8, 30, 40, 12, 8])
    styles = _StyleCache()
    for i in range(2, ws2.max_row + 1):
        styles.apply(ws2.cell(row=i, column=5), "date", number_format="yyyy-mm-dd")
    return _save(wb)


def report_docx(report: Report) -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading(report_title(report), level=1)
    doc.add_paragraph(f"统计日期：{_cn(report.made_on)}。应完成事项以时间节点计，按时完成率＝按时完成÷应完成。")
    _docx_table(doc, REPORT_HEADER, _report_table(report))
    doc.add_heading("逾期未完成事项", level=2)
    rows = _overdue_table(report)
    if rows:
        _docx_table(doc, OVERDUE_HEADER, rows)
    else:
        doc.add_paragraph("无。")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _docx_table(doc, header: list[str], rows: list[list]) -> None:  # noqa: ANN001
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, h in zip(table.rows[0].cells, header, strict=True):
        cell.text = h
    for values in rows:
        for cell, v in zip(table.add_row().cells, values, strict=True):
            cell.text = v.isoformat() if isinstance(v, date) else str(v)


def _cn(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _save(wb) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
