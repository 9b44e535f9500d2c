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


_ALIAS = re.compile(r"^(?P<name>[^(（]+)[(（](?P<alias>[^)）]+)[)）]$")


def aliases_of(name: str) -> list[str]:
    """``市国资委(市金融办)`` -> ``["市国资委", "市金融办"]``: the names it also goes by."""
    m = _ALIAS.match(name)
    return [m["name"].strip(), m["alias"].strip()] if m else []


def is_group(name: str) -> bool:
    """A collective name (各县区政府, 市直相关部门) that config may expand to members."""
    return name.startswith("各") or "相关" in name
