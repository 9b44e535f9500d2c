"""Import time of a ~150 KB plan text: parse (read_plan) and parse + write (store_plan into a
fresh SQLite file, one transaction, as `notifier import` does).

Builds a large format-A plan by repeating the 2018 fixture's tasks under new numbers
(and varying their dates), writes it to a temporary file and times read_plan on it.
Run: PYTHONPATH=$PWD python bench/import_text.py [path/to/another/plan]  (times that file)
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

from notifier.config import defaults
from notifier.db.engine import make_engine, transaction, upgrade
from notifier.importing.readers import read_plan
from notifier.importing.store import store_plan

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/plans/panjin-2018-coastal-economic-belt.txt"
TARGET = 150 * 1024


def build(source: str, target: int = TARGET) -> str:
    head, sep, body = source.partition("二、重点任务")
    blocks = re.split(r"\n(?=\s*\d+\.)", body)
    tasks = [b for b in blocks if re.match(r"\s*\d+\.", b)]
    out = [head, sep, "\n"]
    n, rnd = 0, 0
    while len("".join(out).encode("utf-8")) < target:
        rnd += 1
        out.append(f"\n  ({'一二三四五六七八九'[rnd % 9]})第{rnd}轮任务\n")
        for block in tasks:
            n += 1
            block = re.sub(r"^\s*\d+\.", f"  {n}.", block, count=1)
            # Vary the months so the dates are not all alike.
            block = re.sub(r"(?<!\d)([1-9]|1[0-2])月底前",
                           lambda m, rnd=rnd: f"{(int(m[1]) + rnd) % 12 + 1}月底前", block)
            out.append("\n" + block)
    return "".join(out)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            path = Path(sys.argv[1])
        else:
            path = Path(tmp) / "big-plan.txt"
            path.write_text(build(FIXTURE.read_text(encoding="utf-8")), encoding="utf-8")
        size = path.stat().st_size
        read_plan(path)  # warm-up: imports, regex compilation
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            plan = read_plan(path)
            runs.append((time.perf_counter() - t0) * 1000)
        print(f"plan: {size / 1024:.0f} KB, {len(plan.tasks)} tasks, "
              f"{plan.milestone_count} milestones, {len(plan.warnings)} warnings")
        print(f"read_plan parse time: best {min(runs):.1f} ms, median {sorted(runs)[2]:.1f} ms (5 runs)")
        full, cpu, write = [], [], []
        for i in range(5):
            engine = make_engine(f"sqlite:///{tmp}/bench{i}.db")
            upgrade(engine)  # schema setup is not part of an import
            t0, c0 = time.perf_counter(), time.process_time()
            spec = read_plan(path)
            t1 = time.perf_counter()
            with transaction(engine) as s:
                store_plan(s, spec, defaults())
            t2 = time.perf_counter()
            full.append((t2 - t0) * 1000)
            write.append((t2 - t1) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            engine.dispose()
        print(f"write (store_plan, one transaction): best {min(write):.1f} ms, median {sorted(write)[2]:.1f} ms")
        print(f"import (parse + write to SQLite): best {min(full):.1f} ms, median {sorted(full)[2]:.1f} ms "
              f"wall; best {min(cpu):.1f} ms CPU (5 runs, target < 200 ms)")


if __name__ == "__main__":
    main()
