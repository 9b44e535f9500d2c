"""No comparison in ``notifier/`` spells a StrEnum's value as a plain string.

A ``StrEnum`` compares equal to its value, so ``row.status == "failed"`` works today and keeps
working after a rename of the member's value only by luck; ``DeliveryStatus.FAILED`` is found by
mypy, grep and the reader. This scan reads the package with ``ast`` and names, for each
comparison, membership test, ``.in_(...)`` filter or enum-named keyword that spells such a value,
its file:line and the member to use. A word that equals an enum value but means something else
(a form field, a command name, a config key) is listed in ALLOWED with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from notifier import terms
from notifier.db.models import PlanStatus, RequestState
from notifier.delivery.outbox import DeliveryStatus
from notifier.importing.model import Basis
from notifier.office.accounts import Role as AccountRole
from notifier.office.grades import Light
from notifier.signing import SignState

PACKAGE = Path(__file__).resolve().parents[2] / "notifier"

ENUMS: tuple[type[StrEnum], ...] = (
    terms.DigestKind, terms.Role, terms.MilestoneStatus, terms.RowStatus, terms.Section, terms.HistoryAction,
    terms.Source, DeliveryStatus, PlanStatus, RequestState, Light, Basis, AccountRole, SignState)

# Keyword arguments that carry an enum's value (status=..., role=...).
ENUM_KEYWORDS = {"status", "state", "kind", "role", "section", "action", "source", "grade", "light", "basis"}

# (file relative to notifier/, the flagged expression as ast.unparse writes it) -> why it is not an enum value.
ALLOWED: dict[tuple[str, str], str] = {
    ("cli.py", "args.review_action == 'return'"): "the `notifier review return` subcommand's name",
    ("office/web.py", "request.path_params['verdict'] not in ('approve', 'return')"):
        "the words of the review form's URL (/office/review/ID/approve|return), as the CLI's subcommands",
    ("config.py", "every not in ('monthly', 'cutoff')"): "a value of the [report] every key",
    ("importing/model.py", "'lead' in self.evidence"): "evidence is keyed by TaskSpec's field names",
    ("importing/table.py", "'lead' in cols"): "a table's columns are keyed by TaskSpec's field names",
}



def members_by_value() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for enum in ENUMS:
        for member in enum:
            out.setdefault(member.value, []).append(f"{enum.__qualname__}.{member.name} ({enum.__module__})")
    return out


def literals(node: ast.expr) -> Iterator[ast.Constant]:
    """The string constants a comparison operand spells: itself, or the items of a literal collection."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for item in node.elts:
            yield from literals(item)
    elif isinstance(node, ast.IfExp):
        yield from literals(node.body)
        yield from literals(node.orelse)


def suspects(tree: ast.AST) -> Iterator[tuple[ast.AST, ast.Constant]]:
    """(the comparison, filter or keyword, the literal in it) for every literal that may be an enum value."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                for lit in literals(operand):
                    yield node, lit
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "in_", "not_in"):
            for arg in node.args:
                for lit in literals(arg):
                    yield node, lit
        elif isinstance(node, ast.keyword) and node.arg in ENUM_KEYWORDS:
            for lit in literals(node.value):
                yield node, lit


def findings() -> list[str]:
    values = members_by_value()
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node, lit in suspects(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if lit.value in values and (rel, ast.unparse(node)) not in ALLOWED:
                out.append(f"notifier/{rel}:{lit.lineno}: {lit.value!r} in `{ast.unparse(node)[:80]}`: use "
                           + " or ".join(values[lit.value]))
    return out


def test_comparisons_name_enum_members_not_their_string_values() -> None:
    found = findings()
    assert not found, "a plain string where a StrEnum member belongs:\n" + "\n".join(found)


def test_every_allowed_exception_still_exists() -> None:
    """An allow-list entry whose code is gone would silently allow the next string there."""
    seen = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node, _ in suspects(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            seen.add((rel, ast.unparse(node)))
    assert not set(ALLOWED) - seen, sorted(set(ALLOWED) - seen)
