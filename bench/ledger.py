"""Office ledger benchmark: how long the ledger page's data, the xlsx export and the 通报 take
on a database of N milestones (bench/scale.py's data: six years of plans, 200 departments).

    .venv/bin/python bench/ledger.py --milestones 10000,100000

Printed per size: load (read every milestone, answer and extension, grade each: what every
ledger page view does), the ledger page over HTTP (first page of 300 rows, logged in), the full
ledger.xlsx, and the cutoff 通报.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from scale import config_text, fill  # noqa: E402

from notifier import config as config_mod  # noqa: E402
from notifier.db.engine import make_engine, transaction, upgrade  # noqa: E402
from notifier.office.accounts import add_user  # noqa: E402
from notifier.office.exports import ledger_xlsx  # noqa: E402
from notifier.office.ledger import load_items, load_rows  # noqa: E402
from notifier.office.report import Period, build_report  # noqa: E402


def timed(fn):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run(size: int, workdir: Path) -> dict[str, float]:
    import httpx

    from notifier.web.server import WebThread, make_server

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f"ledger-{size}.db"
    db.unlink(missing_ok=True)
    (workdir / "web.secret").write_text("bench-secret-0123456789abcdef")
    cfg_path = workdir / "bench.toml"
    cfg_path.write_text(config_text(f"sqlite:///{db}", workdir / "outbox", False)
                        + '\n[web]\nsecret_file = "web.secret"\nlisten = "127.0.0.1:0"\n', encoding="utf-8")
    cfg = config_mod.load(cfg_path)
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    today = date.today()
    fill(engine, size, today)
    with transaction(engine) as s:
        add_user(s, "bench", "office", "bench-password", actor="bench", now=datetime.now(UTC).replace(tzinfo=None))
        rows, load_s = timed(lambda: load_rows(s, cfg, today))
        _, xlsx_s = timed(lambda: ledger_xlsx(rows))
        items = load_items(s, cfg)
    _, report_s = timed(lambda: build_report(items, Period.cutoff(f"{today.year}-06-30"), today))
    web = WebThread(make_server(engine, cfg, port=0))
    web.start()
    try:
        with httpx.Client(base_url=f"http://{web.address}", timeout=300) as c:
            page = c.get("/office/login")
            token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            c.post("/office/login", data={"csrf": token, "name": "bench", "password": "bench-password"})
            r, page_s = timed(lambda: c.get("/office/"))
            assert r.status_code == 200, r.status_code
    finally:
        web.stop()
    return {"load+grade": load_s, "ledger page": page_s, "ledger.xlsx": xlsx_s, "通报 (cutoff)": report_s,
            "rows": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--milestones", default="10000,100000")
    ap.add_argument("--workdir", type=Path, default=REPO / "var" / "bench")
    args = ap.parse_args()
    for size in (int(x) for x in args.milestones.split(",")):
        r = run(size, args.workdir)
        print(f"{size:>9,} milestones: " + ", ".join(
            f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v:,}" for k, v in r.items()))


if __name__ == "__main__":
    main()
