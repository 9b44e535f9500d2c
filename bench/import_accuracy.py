"""How well the plan reader reads real plans: task recall, lead and date accuracy against the
hand-annotated gold files of tests/fixtures/plans/corpus, per document, overall, and for the
development and held-out sets apart (see notifier/importing/accuracy.py).

Run: PYTHONPATH=$PWD python bench/import_accuracy.py [-v]   (-v lists every miss)
"""

from __future__ import annotations

import sys
from pathlib import Path

from notifier.importing.accuracy import score_corpus

CORPUS = Path(__file__).resolve().parents[1] / "tests/fixtures/plans/corpus"


def main() -> None:
    verbose = "-v" in sys.argv[1:]
    result = score_corpus(CORPUS)
    print(f"{'document':<52} {'gold':>4} {'found':>5} {'lead':>5} {'date':>5} {'extra':>5}  period")
    for d in result.documents:
        print(f"{d.name:<52} {d.gold_tasks:>4} {d.found:>5} {d.lead_right:>5} {d.date_right:>5} "
              f"{d.spurious:>5}  {'ok' if d.period_right else 'WRONG'}")
        if verbose:
            for miss in d.misses:
                print(f"    {miss}")
    for label, part in (("all", result), ("development", result.subset("development")),
                        ("held-out", result.subset("held-out"))):
        print(f"\n{label}: {len(part.documents)} documents, {part.gold_tasks} gold tasks")
        print(f"  task recall    {part.recall:.3f} ({part.found}/{part.gold_tasks})")
        print(f"  lead accuracy  {part.lead_accuracy:.3f}")
        print(f"  date accuracy  {part.date_accuracy:.3f}")
        print(f"  spurious tasks {part.spurious}")


if __name__ == "__main__":
    main()
