"""No comparison in ``notifier/`` spells a StrEnum's value as a plain string.

A ``StrEnum`` compares equal to its value, so ``row.status == "failed"`` works today; but a typo
or a changed value makes it silently false, while ``DeliveryStatus.FAILED`` is checked by mypy and
found by grep and the reader. This scan reads the package with ``ast`` and names, for each
comparison, membership test, ``.in_(...)`` filter or enum-named keyword that spells such a value,
its file:line and the member to use. A word that equals an enum value but means something else
(a form field, a command name, a config key) is listed in ALLOWED with the reason.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from notifier import terms
from notifier.importing.model import Basis
from notifier.terms import Light

PACKAGE = Path(__file__).resolve().parents[2] / "notifier"

ENUMS: tuple[type[StrEnum], ...] = (
    terms.DigestKind, terms.Role, terms.MilestoneStatus, terms.RowStatus, terms.PlanStatus, terms.RequestState,
    terms.DeliveryStatus, terms.SignState, terms.AccountRole, terms.Section, terms.HistoryAction, terms.Source,
    Light, Basis)

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


@dataclass(frozen=True)
class Hit:
    file: str  # relative to notifier/
    line: int
    value: str
    expression: str  # as ast.unparse writes it: the key of ALLOWED


def hits(source: str, file: str, values: Collection[str]) -> list[Hit]:
    """The literals of ``source`` equal to an enum value, in a comparison, filter or keyword."""
    return [Hit(file, lit.lineno, lit.value, ast.unparse(node))
            for node, lit in suspects(ast.parse(source, file)) if lit.value in values]


@functools.cache
def package_hits() -> tuple[Hit, ...]:
    """Every hit in the package, read once for the tests below."""
    values = members_by_value()
    return tuple(h for path in sorted(PACKAGE.rglob("*.py"))
                 for h in hits(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix(), values))


def findings(found: Iterable[Hit]) -> list[str]:
    values = members_by_value()
    return [f"notifier/{h.file}:{h.line}: {h.value!r} in `{h.expression[:80]}`: use " + " or ".join(values[h.value])
            for h in found if (h.file, h.expression) not in ALLOWED]


def test_comparisons_name_enum_members_not_their_string_values() -> None:
    found = findings(package_hits())
    assert not found, "a plain string where a StrEnum member belongs:\n" + "\n".join(found)


def test_every_allowed_exception_still_exists() -> None:
    """An allow-list entry whose code is gone would silently allow the next string there."""
    gone = set(ALLOWED) - {(h.file, h.expression) for h in package_hits()}
    assert not gone, sorted(gone)


def test_the_scan_names_the_member_for_each_kind_of_use() -> None:
    source = """
if row.status == "failed": pass
if d.kind in ("reminder", "notice"): pass
q.where(HistoryEvent.action.in_(["done"]))
make(role="lead" if x else "responsible")
if args.format == "csv" and row.status == DeliveryStatus.SENT: pass
"""
    found = findings(hits(source, "example.py", members_by_value()))
    assert [f.split(" in ")[0] for f in found] == [
        "notifier/example.py:2: 'failed'", "notifier/example.py:3: 'reminder'", "notifier/example.py:3: 'notice'",
        "notifier/example.py:4: 'done'", "notifier/example.py:5: 'lead'", "notifier/example.py:5: 'responsible'"]
    assert "use DeliveryStatus.FAILED (notifier.terms)" in found[0]
