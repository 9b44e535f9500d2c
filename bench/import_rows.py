"""Import of a large task table: time and peak memory of `notifier import` on a CSV of N rows.

Each row is a new task with its own new lead department (the worst case for the department
index) and a dated milestone. The import runs as a child process, exactly as an admin runs
it, into a fresh SQLite file; its peak resident memory is the child's ru_maxrss.
Run: PYTHONPATH=$PWD python bench/import_rows.py [ROWS ...]   (default: 5000 50000)
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_table(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["某市2019年重点工作任务分解表"])
        w.writerow(["序号", "工作任务", "牵头单位", "配合单位", "完成时限"])
        for i in range(1, rows + 1):
            w.writerow([i, f"推进第{i}项重点工作,确保按期完成。", f"第{i}工作专班",
                        "市财政局、市统计局", f"2019年{i % 12 + 1}月底前"])


def run(rows: int, tmp: Path) -> tuple[float, float, float, int]:
    table = tmp / f"plan-{rows}.csv"
    write_table(table, rows)
    config = tmp / f"bench-{rows}.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp}/bench-{rows}.db"\n', encoding="utf-8")
    subprocess.run([sys.executable, "-m", "notifier", "--config", str(config), "db", "upgrade"],
                   check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "notifier", "--config", str(config), "import",
                           str(table)], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # ru_maxrss of children is the largest child so far: the import is the largest one.
    return elapsed, cpu, after.ru_maxrss / 1024, table.stat().st_size


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [5000, 50000]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{Path(__file__).resolve().parents[1]}{os.pathsep}{env_path}"
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            elapsed, cpu, peak_mb, size = run(rows, Path(tmp))
            print(f"{rows:>7} CSV rows ({size / 1024:.0f} KB), one new department each: "
                  f"import {elapsed:.1f} s wall, {cpu:.1f} s CPU, peak memory {peak_mb:.0f} MB "
                  "(child ru_maxrss)")


if __name__ == "__main__":
    main()
