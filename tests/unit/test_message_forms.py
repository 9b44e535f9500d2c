"""One message, three forms: the text, HTML and Markdown parts carry the same items and
sentences; the office is named only as the config names it; no invented or repeated text."""

from __future__ import annotations

import html
import re
from datetime import date, datetime

from notifier.config import OfficeConfig
from notifier.planning.schedule import Digest, Entry, Item, PlanInfo
from notifier.rendering import Renderer, item_label, sample_digest

OFFICE = OfficeConfig(name="市政府督查室", contact="0427-2800000")


def sentences(text: str) -> list[str]:
    """The readable lines of a part: numbering, bullets and Markdown/HTML markup removed."""
    text = re.sub(r"<br>", "\n", text)
    text = re.sub(r"<(p|li|h3|ol|ul|body|html|head|title|meta|strong)[^>]*>", "\n", text)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(\d+\.|-|###)\s*", "", line).replace("**", "").strip().strip("\u3000")
        if line and not line.startswith("<!DOCTYPE") and line not in ("督办提醒", "逾期通报"):
            out.append(line)
    return out


def merged_digest() -> Digest:
    d = sample_digest()
    plan = d.entries[0].item.plan
    other = Item(9, date(2018, 5, 31), plan, 7, "7", "积极开展精准招商", "积极开展精准招商", (2,))
    d.entries.append(Entry(other, "escalation", 20))
    d.closing = [plan]
    return d


def render(renderer: Renderer, digest: Digest):  # noqa: ANN201
    return renderer.render_digest(digest, "市发改委", datetime(2018, 6, 20, 9), {1: "市发改委", 2: "市商务局"},
                                  outcomes={1: []})


def test_text_html_and_markdown_carry_the_same_items_and_sentences():
    out = render(Renderer(office=OFFICE), merged_digest())
    txt, htm, md = sentences(out.text), sentences(out.html), sentences(out.markdown)
    assert txt == htm == md
    assert any("请抓紧推进并说明原因" in s for s in txt) and any("定期报送" in s or "逾期通报" in s for s in txt)


def test_the_same_holds_with_reply_links():
    r = Renderer(office=OFFICE)
    out = r.render_digest(sample_digest(), "市发改委", datetime(2018, 6, 20, 9), {1: "市发改委"},
                          links={(e.item.milestone_id, e.item.occurrence): f"https://n.example.cn/r/{e.item.milestone_id}"
                                 for e in sample_digest().entries})
    links = lambda s: sorted(re.findall(r"https://n\.example\.cn/r/\d+", s))  # noqa: E731
    assert links(out.text) == links(out.html) == links(out.markdown) and links(out.text)
    strip = lambda s: [x for x in sentences(s.replace("办结或报送进展：", "")) if "https://" not in x]  # noqa: E731
    assert strip(out.text) == [x.replace("办结或报送进展", "").strip() for x in strip(out.html)]


def test_the_office_is_named_only_as_the_config_names_it():
    plain = render(Renderer(), merged_digest())
    for part in (plain.text, plain.html, plain.markdown, plain.subject):
        assert "督查室" not in part and "notifier" not in part
    named = render(Renderer(office=OfficeConfig(name="某市督查办", signature="某市督查办（章）", contact="电话123")),
                   sample_digest())
    assert named.text.rstrip().splitlines()[-2] == "某市督查办（章）"
    assert "报某市督查办（联系方式：电话123）" in named.text


def test_the_inspection_sentence_appears_only_when_configured():
    assert "督查。" not in render(Renderer(office=OFFICE), sample_digest()).text
    told = render(Renderer(office=OfficeConfig(name="市政府督查室", inspection=True)), sample_digest())
    assert "市政府督查室将于2018年6月30日对完成情况进行督查。" in told.text


def test_an_item_line_shows_the_task_title_once():
    assert item_label("5", "城乡居民人均可支配收入增幅保持同步", "城乡居民人均可支配收入增幅保持同步") == \
        "任务5「城乡居民人均可支配收入增幅保持同步」"
    assert item_label("3", "积极开展精准招商", "积极开展精准招商:完成") == "任务3「积极开展精准招商」"
    assert item_label("3", "提升港口能力能级", "完成301#油品泊位配套建设") == "任务3「提升港口能力能级」：完成301#油品泊位配套建设"


def test_a_long_section_stops_at_max_items_then_says_how_many_more():
    plan = PlanInfo(1, "方案", None, date(2018, 1, 1), date(2018, 12, 31))
    d = Digest(1, "reminder", date(2018, 7, 20))
    d.entries = [Entry(Item(i, date(2018, 6, 30), plan, i, str(i), f"任务{i}", f"节点{i}", (1,)), "overdue", 20)
                 for i in range(1, 8)]
    out = Renderer(max_items=5).render_digest(d, "市发改委", datetime(2018, 7, 20, 9), {1: "市发改委"})
    assert "7项已逾期" in out.subject and "（7项）" in out.text
    assert "及其他2项" in out.text and "及其他2项" in out.html and "及其他2项" in out.markdown
    assert "节点5" in out.text and "节点6" not in out.text


def test_a_department_reminded_in_another_role_sees_its_role_in_every_form():
    plan = PlanInfo(1, "方案", None, date(2018, 1, 1), date(2018, 12, 31))
    d = Digest(3, "reminder", date(2018, 5, 24))
    d.entries = [Entry(Item(1, date(2018, 5, 31), plan, 1, "1", "港口建设", "完成验收", (1,), None, (), (3,)),
                     "upcoming", 7, role="cooperating")]
    out = Renderer().render_digest(d, "市财政局", datetime(2018, 5, 24, 9), {1: "市发改委", 3: "市财政局"},
                                   links={(1, date(2018, 5, 31)): "https://n.example.cn/r/1"})
    for part in (out.text, out.html, out.markdown):
        assert "[配合]任务1「港口建设」：完成验收" in part and "现将贵单位承担的工作" in part
    assert "https://" not in out.text and "链接" not in out.text  # the lead answers for it: no reply link
