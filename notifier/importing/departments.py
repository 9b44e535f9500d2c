"""Department names as plans write them -> clean names. Pure functions.

(Minimal first version; the rules of domain.md "Department names" live here.)
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[、,，;；]|及")
_NOTE = re.compile(r"[(（]原[^)）]*[)）]")


def split_departments(text: str) -> list[str]:
    """``市发改委、市财政局等`` -> ``["市发改委", "市财政局"]``."""
    names = []
    for part in _SPLIT.split(_NOTE.sub("", text or "")):
        part = part.strip().removesuffix("等").strip()
        if part and part not in names:
            names.append(part)
    return names
