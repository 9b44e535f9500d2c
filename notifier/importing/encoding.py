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
    """Decode a plan file: strict UTF-8 (a BOM is dropped), else GB18030.

    The extension says nothing about the encoding, so it is not consulted. UTF-8 is
    tried first because valid GB18030 text is almost never valid UTF-8, while every
    byte string that is valid UTF-8 would also decode (wrongly) as GB18030.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise PlanFormatError(
            f"byte {exc.start}: the file is neither UTF-8 nor GB18030 text"
        ) from None


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
