"""How well the plan reader does on real plans: a PlanSpec against a hand-made gold file.

The corpus lives in ``tests/fixtures/plans/corpus``: ``NAME.txt`` (a public plan as
copied from its site) and ``NAME.gold.json`` beside it, annotated by hand from the
document::

    {"source": "https://…", "set": "development", "period": ["2023-01-01", "2023-12-31"],
     "year_argument": 2023,            # optional: the --year a clerk would pass
     "tasks": [{"key": "规模上工业增加值增长5%", "lead": ["区工信局"],
                "lead_basis": "stated", "due": ["2023-12-31"]}]}

A gold task is *found* when an imported task's title or text contains its ``key``. Of
the found tasks, the lead is right when the imported lead departments are exactly the
gold ones, and the date is right when the set of milestone dates is exactly the gold
set. ``set`` is ``development`` for the documents the reader was built against and
``held-out`` for documents annotated and scored only after it was done, the honest
measure of how it reads plans it has not seen. A gold file with no tasks is a document that
must not import (a covering notice): any task read from it counts as spurious. ``bench/import_accuracy.py`` prints these
figures per document; ``tests/unit/test_import_corpus.py`` holds them to the target.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from notifier.importing.encoding import normalize_text
from notifier.importing.model import PlanFormatError, PlanSpec, TaskSpec
from notifier.importing.readers import read_plan


@dataclass
class DocumentScore:
    name: str
    gold_tasks: int
    set: str = "development"
    found: int = 0
    lead_right: int = 0
    date_right: int = 0
    spurious: int = 0
    period_right: bool = True
    error: str | None = None
    misses: list[str] = field(default_factory=list)  # one line per wrong or missing item


@dataclass(frozen=True)
class CorpusScore:
    documents: list[DocumentScore]

    def subset(self, name: str) -> CorpusScore:
        return CorpusScore([d for d in self.documents if d.set == name])

    @property
    def gold_tasks(self) -> int:
        return sum(d.gold_tasks for d in self.documents)

    @property
    def found(self) -> int:
        return sum(d.found for d in self.documents)

    @property
    def recall(self) -> float:
        return self.found / self.gold_tasks if self.gold_tasks else 1.0

    @property
    def lead_accuracy(self) -> float:
        return sum(d.lead_right for d in self.documents) / self.found if self.found else 0.0

    @property
    def date_accuracy(self) -> float:
        return sum(d.date_right for d in self.documents) / self.found if self.found else 0.0

    @property
    def spurious(self) -> int:
        return sum(d.spurious for d in self.documents)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", normalize_text(text))


def _matches(task: TaskSpec, key: str) -> bool:
    return key in _squash(task.title) or key in _squash(task.text)


def score_document(text_path: Path, gold: dict[str, Any]) -> DocumentScore:
    """Read one corpus document and compare it with its gold annotation."""
    gold_tasks = gold["tasks"]
    score = DocumentScore(text_path.stem, len(gold_tasks), gold.get("set", "development"))
    try:
        spec = read_plan(text_path, fmt="text", year=gold.get("year_argument"))
    except PlanFormatError as exc:
        if gold_tasks:
            score.error = str(exc)
            score.misses.append(f"not imported: {exc}")
        return score
    _compare(spec, gold, score)
    return score


def _compare(spec: PlanSpec, gold: dict[str, Any], score: DocumentScore) -> None:
    if gold.get("period"):
        want = tuple(date.fromisoformat(d) for d in gold["period"])
        score.period_right = (spec.starts_on, spec.ends_on) == want
        if not score.period_right:
            score.misses.append(f"period {spec.starts_on}..{spec.ends_on}, gold {want[0]}..{want[1]}")
    used: set[int] = set()
    for g in gold["tasks"]:
        key = _squash(g["key"])
        task = next((t for i, t in enumerate(spec.tasks) if i not in used and _matches(t, key)), None)
        if task is None:
            score.misses.append(f"missing task {g['key']!r}")
            continue
        used.add(spec.tasks.index(task))
        score.found += 1
        if sorted(task.lead) == sorted(g["lead"]):
            score.lead_right += 1
        else:
            score.misses.append(f"task {task.number} {g['key']!r}: lead {task.lead}, gold {g['lead']}")
        dues = sorted({m.due.isoformat() for m in task.milestones})
        if dues == sorted(set(g["due"])):
            score.date_right += 1
        else:
            score.misses.append(f"task {task.number} {g['key']!r}: dates {dues}, gold {sorted(g['due'])}")
    extra = [t for i, t in enumerate(spec.tasks) if i not in used]
    score.spurious = len(extra)
    score.misses += [f"spurious task {t.number} {t.title[:30]!r} (line {t.line})" for t in extra]


def score_corpus(folder: Path) -> CorpusScore:
    """Every ``*.gold.json`` in ``folder`` with the ``.txt`` beside it, by name."""
    docs = []
    for gold_path in sorted(folder.glob("*.gold.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        text_path = gold_path.with_name(gold_path.name.replace(".gold.json", ".txt"))
        docs.append(score_document(text_path, gold))
    return CorpusScore(docs)
