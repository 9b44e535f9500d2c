"""README stays true to the code: its command list names every command and option that
``notifier --help`` knows, and its Layout names every module of the package."""

from __future__ import annotations

import argparse
import re

from notifier.cli import build_parser
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Options every command takes, described once in the text under the list.
COMMON = {"-h", "--help", "--config", "--log-level", "--version"}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], set[str]]:
    """Each leaf command (``("db", "upgrade")``) with its options, deprecated ones left out."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: {o for a in parser._actions for o in a.option_strings
                       if o.startswith("--") and "deprecated" not in (a.help or "")
                       and a.help != argparse.SUPPRESS} - COMMON}
    out: dict[tuple[str, ...], set[str]] = {}
    for name, sub in subs[0].choices.items():
        out.update(commands(sub, (*path, name)))
    return out


def command_lines() -> list[list[str]]:
    """The lines of the command list under "Using it", as words after ``notifier``."""
    block = README.split("## Using it", 1)[1].split("```", 2)[1]
    lines = []
    for line in block.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["notifier"]:
            words = words[1:]
            while words and words[0] == "--config":  # notifier --config PATH check-config
                words = words[2:]
            # `notifier review list [--all] | approve ID | return ID`: each part is a subcommand
            first, *others = " ".join(words).split(" | ")
            lines.append(first.split())
            lines += [[words[0], *other.split()] for other in others]
    return lines


def test_the_readme_command_list_names_every_command_and_option_of_the_parser():
    lines = command_lines()
    missing = []
    for path, options in commands(build_parser()).items():
        mine = [w for w in lines if w and w[0] == path[0]
                and (len(path) == 1 or (len(w) > 1 and path[1] in w[1].split("|")))]
        if not mine:
            missing.append(" ".join(path))
            continue
        listed = {m for w in mine for word in w for m in re.findall(r"--[a-z][a-z-]*", word)}
        missing += [f"{' '.join(path)} {o}" for o in sorted(options - listed)]
    assert not missing, f"README's command list lacks: {missing}"


def test_the_readme_layout_names_every_module():
    layout = README.split("## Layout", 1)[1].split("```", 2)[1]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", layout))
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notifier").rglob("*.py")
                     if p.name != "__init__.py")
    missing = [m for m in modules if m.rsplit("/", 1)[-1].removesuffix(".py") not in words]
    assert not missing, f"README's Layout does not name: {missing}"
