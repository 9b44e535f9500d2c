"""What ``notifier import --dry-run`` prints: the plan as read, and how sure the reader is.

Each task shows its lead departments and, in brackets, where they came from: ``stated``
(a 牵头 label or word, a lead column), ``inferred: first-listed`` (no 牵头 word, the first
unit listed leads), ``inferred: heading`` (一、X牵头工作), ``inferred: 下同`` (a scope note
carried the units) or ``missing``; and the same for its dates (``stated``, ``inferred:
plan end``, ``missing`` when a date did not read). A fragment left out of the departments
(a date, a person's title, ``按职责分工负责``) is marked ``!`` under its task. The last
lines count each kind, so a clerk sees at once what to check before the plan is trusted.
"""

from __future__ import annotations

from collections import Counter

from notifier.importing.model import Basis, PlanSpec, TaskSpec


def certainty(basis: Basis) -> str:
    """``stated`` / ``inferred: first-listed`` / ``missing``."""
    return basis.value if basis.certainty != "inferred" else f"inferred: {basis.value}"


def plan_table(spec: PlanSpec) -> str:
    lines = [f"{spec.name}  {spec.doc_number or ''}  {spec.starts_on}..{spec.ends_on}"]
    for t in spec.tasks:
        lines += task_lines(t)
    lines.append(summary(spec))
    return "\n".join(lines)


def task_lines(t: TaskSpec) -> list[str]:
    # A first-listed lead is also the first responsible unit: name it once.
    others = "、".join(d for d in t.responsible + t.cooperating if d not in t.lead)
    out = [f"{t.number:>6}  {t.title[:30]:<30}  line {t.line or '?':<4} 牵头: {'、'.join(t.lead) or '-'} "
           f"[{certainty(t.lead_source)}]" + (f"  其他: {others}" if others else "")]
    for m in t.milestones:
        rule = f" [{m.recurrence}]" if m.recurrence else ""
        source = f"  ← line {m.line}: {m.phrase}" if m.phrase else f"  ← [{certainty(t.due_source)}]"
        out.append(f"{'':>8}{m.due}{rule}  {m.text[:40]}{source}")
    out += [f"{'':>8}! {note}" for note in t.notes]
    return out


def summary(spec: PlanSpec) -> str:
    leads = Counter(t.lead_source.certainty for t in spec.tasks)
    dates = Counter(t.due_source.certainty for t in spec.tasks)

    def said(c: Counter[str]) -> str:
        return ", ".join(f"{c[k]} {k}" for k in ("stated", "inferred", "missing"))

    return f"leads: {said(leads)}; dates: {said(dates)}"


def unsure_leads(spec: PlanSpec) -> list[str]:
    """One line per task whose lead is inferred or missing (what ``--strict`` refuses)."""
    return [f"line {t.line}: task {t.number} {t.title[:20]!r}: lead {certainty(t.lead_source)}"
            for t in spec.tasks if t.lead_source is not Basis.STATED]
