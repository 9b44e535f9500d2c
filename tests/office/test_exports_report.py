"""The ledger .xlsx (fills, inert cells), `notifier export --ledger`, and the 通报: its figures
checked against an independent count of the same facts, as a page, .xlsx and .docx."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import date, datetime

import pytest
from docx import Document
from openpyxl import load_workbook

from notifier import cli
from notifier.db.engine import transaction
from notifier.terms import Light
from notifier.marks import apply_mark

from tests.support.office import start_office
from tests.support.world import ms, plan, task

# (lead, due, done on) - the facts the 通报 is made of; today is 2025-07-10.
FACTS = [
    ("市港口与口岸局", date(2025, 6, 10), date(2025, 6, 9)),   # on time
    ("市港口与口岸局", date(2025, 6, 20), date(2025, 6, 25)),  # late
    ("市港口与口岸局", date(2025, 6, 30), None),              # overdue
    ("市发改委", date(2025, 6, 15), date(2025, 6, 15)),        # on time (the day itself)
    ("市发改委", date(2025, 6, 28), date(2025, 6, 1)),         # on time (early)
    ("市农委", date(2025, 6, 5), None),                       # overdue
    ("市农委", date(2025, 6, 30), date(2025, 7, 2)),          # late
    ("市农委", date(2025, 5, 31), date(2025, 5, 30)),         # May: outside period=2025-06
    ("市发改委", date(2025, 7, 20), None),                    # not yet due
]
NAMES = {"市发改委": "市发展和改革委员会", "市农委": "市农村经济委员会", "市港口与口岸局": "市港口与口岸局"}


def independent_count(period_start: date, period_end: date, today: date) -> dict[str, tuple[int, int, int, int]]:
    out: dict[str, list[int]] = {}
    for lead, due, done in FACTS:
        if not (period_start <= due <= period_end) or due > today:
            continue
        c = out.setdefault(NAMES[lead], [0, 0, 0, 0])
        c[0] += 1
        if done is not None and done <= due:
            c[1] += 1
        elif done is not None:
            c[2] += 1
        elif due < today:
            c[3] += 1
    return {k: tuple(v) for k, v in out.items()}


@pytest.fixture
def reported(tmp_path):  # noqa: ANN001, ANN201
    spec = plan(2025, *[task(str(i), f"任务{i}", lead, ms(due, f"节点{i}")) for i, (lead, due, _) in enumerate(FACTS, 1)])
    o = start_office(tmp_path, spec)
    ids = {i: o.world.milestone_id(f"节点{i}") for i in range(1, len(FACTS) + 1)}
    with transaction(o.world.engine) as s:
        for i, (_, _, done) in enumerate(FACTS, 1):
            if done:  # 04:00 UTC is noon in Asia/Shanghai: the same local day
                apply_mark(s, ids[i], done=True, source="cli", now=datetime(done.year, done.month, done.day, 4, 0))
    yield o
    o.stop()


def page_figures(html: str) -> dict[str, tuple[int, int, int, int]]:
    table = html.split('id="report"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        cells = [re.sub(r"<.*?>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells[1] != "合计":
            out[cells[1]] = tuple(int(x) for x in cells[2:6])
    return out


def test_the_monthly_report_matches_an_independent_count(reported):
    c = reported.login()
    html = c.get("/office/report", params={"period": "2025-06"}).text
    expected = independent_count(date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 10))
    assert page_figures(html) == expected
    assert "节点3" in html.split('id="overdue"', 1)[1] and "节点6" in html.split('id="overdue"', 1)[1]


def test_the_cutoff_report_counts_from_the_start_of_the_year(reported):
    html = reported.login().get("/office/report", params={"cutoff": "2025-06-30"}).text
    assert page_figures(html) == independent_count(date(2025, 1, 1), date(2025, 6, 30), date(2025, 7, 10))


def test_departments_rank_by_on_time_rate(reported):
    html = reported.login().get("/office/report", params={"period": "2025-06"}).text
    ranks = re.findall(r'data-label="排名">(\d+)</td><td data-label="单位">([^<]+)<', html)
    # 发改委 2/2, 港口 1/3, 农委 0/2
    assert ranks == [("1", "市发展和改革委员会"), ("2", "市港口与口岸局"), ("3", "市农村经济委员会")]


def test_the_report_downloads_as_xlsx_and_docx_with_the_same_figures(reported):
    c = reported.login()
    expected = independent_count(date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 10))
    r = c.get("/office/report.xlsx", params={"period": "2025-06"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content))["通报"]
    got = {row[1]: tuple(row[2:6]) for row in ws.iter_rows(min_row=2, values_only=True) if row[1] != "合计"}
    assert got == expected
    doc = Document(io.BytesIO(c.get("/office/report.docx", params={"period": "2025-06"}).content))
    table = doc.tables[0]
    got = {r.cells[1].text: tuple(int(x.text) for x in r.cells[2:6]) for r in table.rows[1:-1]}
    assert got == expected
    assert "通报" in doc.paragraphs[0].text


def test_a_bad_period_is_a_clear_page(reported):
    r = reported.login().get("/office/report", params={"period": "六月"})
    assert r.status_code == 400 and "2018-06" in r.text


def test_the_ledger_xlsx_has_one_row_per_milestone_with_the_light_as_fill(office):
    r = office.login().get("/office/ledger.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    header = [c.value for c in ws[1]]
    light_col = header.index("督办灯")
    rows = list(ws.iter_rows(min_row=2))
    assert len(rows) == 5
    fills = Counter(row[light_col].fill.start_color.rgb[-6:] for row in rows)
    assert fills == Counter({Light.RED.rgb: 3, Light.YELLOW.rgb: 2})
    for row in rows:
        label = row[light_col].value[0]
        assert row[light_col].fill.start_color.rgb[-6:] == {"红": Light.RED, "黄": Light.YELLOW}[label].rgb


def test_ledger_cells_that_look_like_formulas_stay_text(office):
    data = office.login().get("/office/ledger.xlsx").content
    ws = load_workbook(io.BytesIO(data)).active
    [cell] = [c for row in ws.iter_rows(min_row=2) for c in row if str(c.value).startswith("=HYPERLINK")]
    assert cell.data_type == "s"
    assert b"<f>" not in _sheet_xml(data)


def _sheet_xml(data: bytes) -> bytes:
    import zipfile

    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


def test_export_ledger_command_writes_the_same_workbook(office, tmp_path, capsys):
    out = tmp_path / "台账.xlsx"
    assert cli.main(["--config", str(office.world.cfg.path), "export", "--ledger", str(out)]) == 0
    assert "5 milestones" in capsys.readouterr().out
    ws = load_workbook(out).active
    assert ws.max_row == 6 and ws["A1"].value == "方案"
    assert cli.main(["--config", str(office.world.cfg.path), "export", "--ledger", str(tmp_path / "x.csv")]) == 2
