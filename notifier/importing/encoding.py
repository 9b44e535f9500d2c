"""Bytes of a plan -> one normalized text. Pure functions, no I/O.

Plans arrive as UTF-8, UTF-8 with a BOM or GB18030 (saved by Windows tools), with
full-width or ASCII punctuation, and now and then in traditional characters after a
trip through a conversion site. Every reader normalizes once, here, so the parsers
downstream see one spelling: ASCII digits and ``:(),;``, simplified characters.
"""

from __future__ import annotations

import re
import unicodedata

from notifier.importing.model import PlanFormatError


def decode_bytes(data: bytes) -> str:
    """Decode a plan file: UTF-16 with a byte-order mark (Excel's "Unicode text"),
    strict UTF-8 (a BOM is dropped), else GB18030.

    The extension says nothing about the encoding, so it is not consulted. UTF-8 is
    tried first because valid GB18030 text is almost never valid UTF-8, while every
    byte string that is valid UTF-8 would also decode (wrongly) as GB18030. A file
    whose lines are partly UTF-8 and partly not was pasted together from two sources:
    decoding it either way would garble half of it, so it is refused, naming the line.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise PlanFormatError(f"byte {exc.start}: the file starts as UTF-16 text "
                                  "but is not valid UTF-16") from None
    if b"\x00" in data:
        raise PlanFormatError(
            f"byte {data.index(0)}: a NUL byte; the file is binary, or UTF-16 text without "
            "a byte-order mark (save it as UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    mixed = _mixed_encoding_line(data)
    if mixed is not None:
        raise PlanFormatError(
            f"line {mixed}: the file mixes encodings (earlier lines are UTF-8, this one is "
            "not); save the whole file again as UTF-8")
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data.count(b"\n", 0, utf8_error.start) + 1
        raise PlanFormatError(
            f"line {line} (byte {utf8_error.start}): the file is neither UTF-8 nor GB18030 text"
        ) from None


def _mixed_encoding_line(data: bytes) -> int | None:
    """The first line that is not UTF-8 in a file where an earlier line is UTF-8 with
    Chinese in it (three non-ASCII characters: GB18030 bytes are seldom valid UTF-8 for
    that long), else None."""
    seen_utf8 = False
    for number, line in enumerate(data.split(b"\n"), 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return number if seen_utf8 else None
        seen_utf8 = seen_utf8 or sum(1 for ch in text if ord(ch) > 0x7F) >= 3
    return None


# C0 and C1 control characters other than tab and line ends: never meant in a plan, invisible
# in a terminal, illegal in .xlsx cells (openpyxl refuses them) and able to forge log lines.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tab, CR and LF stay)."""
    return _CONTROLS.sub("", text)


# Traditional -> simplified, limited to characters that occur in plan labels, date
# phrases and department names. A full converter (OpenCC) would be a dependency for a
# rare case; a name this table misses is still imported, just under its printed form.
_TRAD = (
    "牽牵頭头單单門门責责協协時时間间節节點点內内務务負负導导領领進进報报調调"
    "發发財财廳厅區区縣县營营環环經经濟济術术業业農农衛卫計计學学資资國国規规劃划"
    "設设機机關关質质監监體体實实鄉乡鎮镇傳传統统組组織织辦办號号審审批批會会員员"
    "辦办處处諮咨詢询開开電电氣气鐵铁運运輸输橋桥園园絡络網网聯联銀银險险稅税務务"
    "價价場场藥药醫医療疗"
    "災灾漁渔畫画層层勞劳動动權权傢家廣广東东遼辽錦锦盤盘灣湾濱滨漢汉與与為为"
    "於于個个們们後后應应對对將将從从當当產产築筑歸归總总級级類类態态廢废舊旧"
    "強强達达雙双邊边準准備备層层優优屬属環环觀观邊边據据續续據据這这書书紀纪"
    "讓让認认證证議议論论講讲請请論论說说讀读課课試试詳详誠诚調调諾诺謀谋護护"
    "轉转輕轻載载輛辆軌轨達达遞递適适選选遺遗還还遠远週周週周億亿萬万兩两歲岁"
    "條条東东車车軍军韓韩際际陸陆階阶隊队險险雲云齊齐龍龙葉叶藝艺蘭兰補补裝装"
    "製制複复覆覆視视親亲觸触証证評评試试該该詞词譯译變变貨货貿贸費费資资賓宾"
    "質质購购贊赞趙赵車车軟软農农邁迈郵邮鄰邻針针鋼钢錄录長长門门閉闭問问間间"
    "閱阅隊队陽阳陰阴隨随險险離离難难電电靜静頁页項项順顺預预領领頻频題题額额"
    "風风飛飞館馆養养馬马驗验體体髮发鬥斗魚鱼鳥鸟鹽盐麥麦黃黄齡龄圖图團团壓压"
    "夠够奪夺奮奋婦妇孫孙寧宁寶宝專专將将尋寻導导屆届島岛嶺岭幣币幫帮廠厂廳厅"
    "彈弹徵征徑径恆恒悅悦惡恶愛爱態态慶庆憲宪戰战戶户擇择擴扩據据擊击數数斷断"
    "晉晋樂乐標标樣样權权歡欢歷历殘残氣气決决況况減减湯汤滿满漁渔潔洁澤泽熱热"
    "燈灯獎奖現现瑪玛畢毕畫画療疗盡尽監监盤盘礎础禮礼種种稱称穩稳競竞筆笔範范"
    "簡简糧粮紅红約约級级紙纸細细終终結结給给統统絲丝綠绿維维綜综線线練练縣县"
    "總总績绩繼继續续纖纤罰罚習习聲声聽听膽胆臺台舉举莊庄蘇苏處处號号蟲虫術术"
    "衝冲衛卫補补裡里規规覽览觀观計计訂订記记許许設设訪访診诊証证詢询試试話话"
    "誌志認认語语誤误說说課课調调談谈請请論论諸诸謝谢識识警警譜谱護护讀读變变"
    "貝贝負负財财責责貫贯販贩貧贫貸贷費费賀贺資资賣卖質质賴赖購购賽赛贈赠趕赶"
    "跡迹躍跃軟软較较載载輔辅輪轮輯辑辦办農农這这連连進进運运過过達达違违遜逊"
    "遷迁選选遺遗邊边鄉乡醫医釋释針针鍵键鎮镇長长閒闲開开關关閣阁隸隶雜杂雞鸡"
    "雙双離离難难電电霧雾靈灵響响頂顶項项預预領领頭头頻频顧顾顯显類类養养餘余"
)
_TRAD_MAP = {ord(_TRAD[i]): _TRAD[i + 1] for i in range(0, len(_TRAD) - 1, 2)
             if not _TRAD[i].isascii() and not _TRAD[i + 1].isascii()}


def _build_table() -> dict[int, str]:
    table: dict[int, str] = dict(_TRAD_MAP)
    # Full-width ASCII forms (！..～) -> ASCII: ：；，（）０-９Ａ-Ｚ read like :;,()0-9A-Z.
    for cp in range(0xFF01, 0xFF5F):
        table[cp] = chr(cp - 0xFEE0)
    table[0x3000] = " "  # ideographic space
    table[0x00A0] = " "  # no-break space from web pages
    table[0xFEFF] = ""  # a BOM left inside (concatenated files)
    table[0x200B] = ""  # zero-width space from web pages
    table[0x3002] = "。"
    table[0xFE50] = ","  # small-form punctuation
    table[0xFE54] = ";"
    table[0xFE55] = ":"
    table[0xFE59] = "("
    table[0xFE5A] = ")"
    return table


_TABLE = _build_table()


def normalize_text(text: str) -> str:
    """One spelling for the parsers: ASCII digits and ``:(),;``, simplified
    characters, ``\\n`` line ends. ``、`` ``。`` ``〔〕`` ``《》`` and ``——`` stay: they
    carry meaning (lists, sentences, document numbers, titles, indicators)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text).translate(_TABLE)
