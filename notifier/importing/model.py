"""What an importer understood of a plan: plain data, no database.

Every reader (csv, xlsx, text, docx) produces a ``PlanSpec``; ``store.py`` is the only
code that writes one to the database. Keeping the two apart lets ``--dry-run`` show
exactly what would be written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class PlanFormatError(ValueError):
    """A document that cannot be imported. ``str()`` names the place (row/line, column)."""


@dataclass(frozen=True)
class Problem:
    """A warning about one place in the source; the import goes on without guessing."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class Basis(StrEnum):
    """Where a task's lead or date came from, i.e. how sure the reader is of it."""

    STATED = "stated"  # a 牵头 label or word, a column of leads, a date printed for the task
    FIRST_LISTED = "first-listed"  # no 牵头 word: the first unit listed leads (the convention)
    HEADING = "heading"  # the section heading names the lead (一、X牵头工作)
    CARRIED = "下同"  # a scope note (下同 / 不再列出) carried the units to this task
    PLAN_END = "plan end"  # no date printed: due at the plan's end
    MISSING = "missing"  # nothing found (no unit), or a date that could not be read

    @property
    def certainty(self) -> str:
        """stated | inferred | missing, as the dry-run table shows it."""
        if self in (Basis.STATED, Basis.MISSING):
            return self.value
        return "inferred"


@dataclass
class MilestoneSpec:
    """One dated item of a task's time nodes.

    ``recurrence`` is None for a one-off milestone. For a recurring report it is one of
    ``"monthly:DD"`` (every month, by day DD), ``"quarterly"`` (each quarter's end),
    ``"semiannual"`` (June 30 and December 31); ``due`` is then the last occurrence
    within the plan period and the occurrences are expanded by ``planning``.
    """

    due: date
    text: str
    phrase: str = ""  # the words the date was read from, shown in --dry-run
    line: int | None = None
    recurrence: str | None = None

    @property
    def key(self) -> str:
        """Identity within its task across re-imports: date (or rule) and text."""
        basis = f"{self.recurrence or self.due.isoformat()}|{self.text.strip()}"
        return hashlib.sha1(basis.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


@dataclass
class TaskSpec:
    number: str  # as printed: "3", "(一)", "(一)2", "指标1"
    title: str
    text: str = ""
    lead: list[str] = field(default_factory=list)
    responsible: list[str] = field(default_factory=list)
    cooperating: list[str] = field(default_factory=list)
    milestones: list[MilestoneSpec] = field(default_factory=list)
    line: int | None = None
    section: str = ""  # the heading the task stands under, when the reader knows it
    # How each field was found, for ``import --explain``: field -> "line 12: 牵头部门:..."
    evidence: dict[str, str] = field(default_factory=dict)
    # How sure the reader is of the lead and the date; None = not said by the reader,
    # then told from the evidence (see ``lead_certainty``).
    lead_basis: Basis | None = None
    due_basis: Basis | None = None
    # Remarks for --dry-run, e.g. a fragment that was left out of the departments.
    notes: list[str] = field(default_factory=list)

    @property
    def lead_source(self) -> Basis:
        """The lead's basis; for readers that do not say (tables), a lead column is
        stated and a lead taken from the responsible units is first-listed."""
        if self.lead_basis is not None:
            return self.lead_basis
        if not self.lead:
            return Basis.MISSING
        return Basis.STATED if "lead" in self.evidence else Basis.FIRST_LISTED

    @property
    def due_source(self) -> Basis:
        if self.due_basis is not None:
            return self.due_basis
        return Basis.STATED if any(m.phrase for m in self.milestones) else Basis.PLAN_END


@dataclass
class PlanSpec:
    name: str
    year: int
    starts_on: date
    ends_on: date
    doc_number: str | None = None  # 文号, e.g. 盘政办发〔2018〕23号
    issuer: str | None = None
    issued_on: date | None = None
    tasks: list[TaskSpec] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    source_hash: str = ""

    @property
    def milestone_count(self) -> int:
        return sum(len(t.milestones) for t in self.tasks)

    def departments(self) -> list[str]:
        seen: dict[str, None] = {}
        for t in self.tasks:
            for name in (*t.lead, *t.responsible, *t.cooperating):
                seen.setdefault(name, None)
        return list(seen)
