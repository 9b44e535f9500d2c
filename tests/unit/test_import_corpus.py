"""The reader against real public plans: tests/fixtures/plans/corpus, hand-annotated gold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notifier.importing.accuracy import score_corpus, score_document
from notifier.importing.readers import read_plan

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "plans" / "corpus"
GOLD = sorted(CORPUS.glob("*.gold.json"))
TARGET = 0.95


def test_the_corpus_holds_at_least_twenty_documents_each_with_its_source_and_gold():
    assert len(GOLD) >= 20
    for gold_path in GOLD:
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        assert gold["source"].startswith("http"), gold_path.name
        assert gold_path.with_name(gold_path.name.replace(".gold.json", ".txt")).exists()


def test_task_recall_lead_and_date_accuracy_reach_the_target_across_the_corpus():
    result = score_corpus(CORPUS)
    misses = [f"{d.name}: {m}" for d in result.documents for m in d.misses]
    assert result.recall >= TARGET, misses
    assert result.lead_accuracy >= TARGET, misses
    assert result.date_accuracy >= TARGET, misses


def test_covering_notices_without_tasks_import_nothing():
    result = score_corpus(CORPUS)
    assert result.spurious == 0, [m for d in result.documents for m in d.misses]


@pytest.mark.parametrize("gold_path", GOLD, ids=lambda p: p.name.removesuffix(".gold.json"))
def test_every_document_reads_its_plan_period(gold_path):
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    score = score_document(gold_path.with_name(gold_path.name.replace(".gold.json", ".txt")), gold)
    assert score.period_right, score.misses


@pytest.mark.parametrize("gold_path", [g for g in GOLD if json.loads(g.read_text(encoding="utf-8"))["tasks"]],
                         ids=lambda p: p.name.removesuffix(".gold.json"))
def test_every_task_and_milestone_records_the_line_it_came_from(gold_path):
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    text = gold_path.with_name(gold_path.name.replace(".gold.json", ".txt"))
    spec = read_plan(text, fmt="text", year=gold.get("year_argument"))
    n_lines = len(text.read_text(encoding="utf-8").splitlines())
    for t in spec.tasks:
        assert t.line and 1 <= t.line <= n_lines, t.number
        assert len(t.number) <= 12, t.number  # a number, never the task's text
        assert all(m.line and 1 <= m.line <= n_lines for m in t.milestones), t.number
