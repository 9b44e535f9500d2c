"""Config files on disk: the one writer every test's config goes through."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent


def write_toml(directory: Path, text: str, name: str = "config.toml") -> Path:
    """Write ``text`` (dedented, UTF-8) as ``directory/name`` and return its path."""
    path = directory / name
    path.write_text(dedent(text), encoding="utf-8")
    return path
