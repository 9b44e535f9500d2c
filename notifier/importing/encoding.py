"""Bytes of a plan -> one normalized text. Pure functions, no I/O.

Plans arrive as UTF-8, UTF-8 with a BOM or GB18030 (saved by Windows tools), with
full-width or ASCII punctuation, and now and then in traditional characters after a
trip through a conversion site, sometimes with pinyin after characters (發(fā)). Every
reader normalizes once, here, so the parsers downstream see one spelling: ASCII digits
and ``:(),;``, simplified characters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

from opencc_purepy import OpenCC

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


# Traditional -> simplified goes through OpenCC (opencc-purepy, the t2s configuration):
# a hand-written table missed most characters. Converting costs about 1 ms per KB, so
# only the lines that hold a traditional character are converted; a simplified plan
# (nearly all of them) pays one regular-expression scan.
@functools.cache
def _t2s() -> OpenCC:
    return OpenCC("t2s")


@functools.cache
def _traditional_chars() -> frozenset[str] | None:
    """The characters OpenCC's t2s table changes; ``None`` when the package ships
    without its table (then every non-ASCII line is converted)."""
    try:
        table = resources.files("opencc_purepy").joinpath("dicts", "TSCharacters.txt")
        lines = table.read_text(encoding="utf-8").splitlines()
    except (OSError, ModuleNotFoundError):
        return None
    return frozenset(k for k, _, v in (ln.partition("\t") for ln in lines)
                     if len(k) == 1 and ord(k) >= 0x2E80 and v.split(" ")[0] != k)  # CJK only


def to_simplified(text: str) -> str:
    """Traditional characters -> simplified, line by line, leaving simplified lines as they
    are (OpenCC keeps them anyway; skipping them is for speed)."""
    traditional = _traditional_chars()
    if traditional is not None and traditional.isdisjoint(set(text)):
        return text
    converter = _t2s()
    out = []
    for line in text.split("\n"):
        needs = not traditional.isdisjoint(line) if traditional is not None else not line.isascii()
        out.append(converter.convert(line) if needs else line)
    return "\n".join(out)


# Pinyin that some sites print after a character, 發(fā)展: a reading aid, not text.
_RUBY = re.compile(r"(?<=[\u3400-\u9fff])\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ]{1,7}\)")


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
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
    text = unicodedata.normalize("NFC", text).translate(_TABLE)
    return to_simplified(_RUBY.sub("", text))
