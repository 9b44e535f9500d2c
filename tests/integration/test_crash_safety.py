"""Crash safety, proved with the real sender: ``notifier send-due --force`` as a subprocess on
a SQLite file, killed with SIGKILL at random moments and restarted, while the local HTTP
receiver answers some requests with 500, 429 + Retry-After, a late answer (client timeout) or
a connection reset, and the SMTP server is down for a stretch.

At the end every reminder is delivered, none is lost, each copy of one reminder carries the
same webhook-id / Message-ID, and the duplicates stay within what the kills can cause: the
config runs one send at a time, so a kill can repeat at most the one message in flight.
Real time is used (it is a crash test), but nothing waits a fixed long time: it polls.

What it holds the sender to is its CPU time (user + system of every ``send-due`` run), which a
loaded machine does not stretch the way it stretches wall time: a sender that busy-loops or
redoes work blows the budget on any machine. Wall time only guards against a hang.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections import defaultdict
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.support.database import sqlite_engine
from tests.support.outbox import queue_rows, rows, statuses
from tests.support.processes import free_port
from tests.support.servers import HTTPReceiver, Reply, SMTPServer


REMINDERS = 1000  # each to one webhook and one e-mail address: 2,000 outbox rows
KILLS = 20
# CPU seconds (user + system) all sender runs together may use. Measured: about 27 s for the
# 2,000 rows and ~25 runs (most of it each run's start-up: Python, SQLAlchemy, the config), the
# same on a quiet and on a loaded machine; the budget leaves room for slower CPUs.
CPU_BUDGET = 75
HANG_GUARD = 900  # wall seconds: only a hang takes this long, whatever the load
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def faulty(rng: random.Random):  # noqa: ANN201
    def policy_(req) -> Reply:  # noqa: ANN001
        x = rng.random()
        if x < 0.04:
            return Reply(500)
        if x < 0.06:
            return Reply(429, {"Retry-After": "1"})
        if x < 0.065:
            # answered after the client's 1 s timeout (not counted as delivered); the timeout is
            # long enough that a prompt answer on a loaded machine never times out, which would
            # be a duplicate no kill caused
            return Reply(200, delay=1.3)
        if x < 0.075:
            return Reply(reset=True)
        return Reply(200)
    return policy_


def write_config(tmp: Path, http_url: str, smtp_port: int) -> Path:
    (tmp / "hook.secret").write_text(SECRET)
    cfg = tmp / "notifier.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///n.db"
[email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "notifier@example.gov.cn"
timeout = 2
[webhooks.crash]
kind = "json"
url = "{http_url}/hook"
secret_file = "hook.secret"
timeout = 1
[delivery]
lease_seconds = 1
concurrency = 1
max_attempts = 1000
backoff_seconds = 0.2
backoff_cap_seconds = 1
[[departments]]
name = "市发展和改革委员会"
email = ["crash@example.gov.cn"]
webhooks = ["crash"]
""", encoding="utf-8")
    return cfg


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_repeats_at_most_one_message_per_kill(tmp_path) -> None:  # noqa: ANN001
    rng = random.Random(int(os.environ.get("CRASH_SEED", "4")))
    receiver = HTTPReceiver(faulty(rng))
    # The SMTP server comes back on its port after the outage: a port from port 0 could be taken
    # meanwhile by any process's connection, one below the ephemeral range cannot.
    smtp = SMTPServer(port=free_port())
    engine = sqlite_engine(tmp_path / "n.db")
    cfg = write_config(tmp_path, receiver.url, smtp.port)
    queue_rows(engine, [("webhook", "crash"), ("email", "crash@example.gov.cn")], n=REMINDERS,
               now=__import__("datetime").datetime.utcnow())
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(tmp_path / "sender.log", "ab")  # noqa: SIM115

    def progress() -> int:
        return receiver.count() + len(smtp.received)

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "notifier", "--config", str(cfg), "send-due", "--force"],
                                cwd=tmp_path, env=env, stdout=log, stderr=log)

    kills, outages, runs = 0, 0, 0
    live: list[subprocess.Popen] = []
    started = time.monotonic()
    deadline = started + HANG_GUARD
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        while statuses(engine).get("sent", 0) < 2 * REMINDERS:
            assert time.monotonic() < deadline, f"hung: {statuses(engine)} after {runs} runs, {kills} kills"
            proc = start()
            live.append(proc)
            runs += 1
            if kills < KILLS:
                base, target = progress(), rng.randint(1, 60)
                while proc.poll() is None and progress() < base + target:
                    time.sleep(0.005)
                if proc.poll() is None:
                    time.sleep(rng.random() * 0.01)  # somewhere inside a send, a record or a claim
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                proc.wait()
                if kills == 8 and outages == 0:  # the SMTP server goes away for a stretch
                    port = smtp.port
                    smtp.stop()
                    outages += 1
                    outage = start()
                    live.append(outage)
                    outage.wait(timeout=60)  # sends what it can, e-mail waits for the server
                    runs += 1
                    fresh = SMTPServer(port=port)
                    fresh.received = smtp.received  # one record of what was delivered
                    smtp = fresh
            else:
                proc.wait(timeout=60)
            if os.environ.get("CRASH_DEBUG"):
                print(f"{time.monotonic() - started:6.1f}s run {runs} kills {kills} {statuses(engine)}", flush=True)
    finally:
        for p in live:
            if p.poll() is None:
                p.kill()
                p.wait()
        log.close()
        receiver.close()
        smtp.stop()

    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every run was waited for: all counted
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    wall = time.monotonic() - started
    assert kills >= KILLS
    assert statuses(engine) == {"sent": 2 * REMINDERS}
    keys = {(r.channel, r.digest_id): r.key for r in rows(engine)}
    subjects = {f"提醒 d-{i}" for i in range(REMINDERS)}

    # Webhooks: what the receiver accepted (2xx in time), by reminder.
    hooks = defaultdict(list)
    for req in receiver.requests:
        if req.delivered:
            hooks[req.json["subject"]].append(req.headers["webhook-id"])
    assert set(hooks) == subjects, "a webhook reminder was lost"
    assert all(len(set(ids)) == 1 for ids in hooks.values()), "a repeated webhook got a new webhook-id"
    assert {ids[0] for ids in hooks.values()} == {k for (ch, _), k in keys.items() if ch == "webhook"}

    # E-mail: what the SMTP server accepted, by reminder.
    mails = defaultdict(list)
    for got in smtp.received:
        msg = BytesParser(policy=policy.default).parsebytes(got.raw, headersonly=True)
        mails[msg["Subject"]].append(msg["Message-ID"])
    assert set(mails) == subjects, "an e-mail reminder was lost"
    assert all(len(set(ids)) == 1 for ids in mails.values()), "a repeated e-mail got a new Message-ID"

    duplicates = sum(len(v) - 1 for v in hooks.values()) + sum(len(v) - 1 for v in mails.values())
    # One in-flight message per kill; stopping the SMTP server mid-DATA may add one more.
    assert duplicates <= kills + outages, f"{duplicates} duplicates for {kills} kills"
    # Nothing busy-looped: the faults cost a bounded number of extra requests.
    assert receiver.count() < 1.5 * REMINDERS, f"{receiver.count()} requests for {REMINDERS} webhooks"
    # Bounded work: the senders' CPU, not the wall clock a loaded machine stretches.
    assert cpu < CPU_BUDGET, f"the senders used {cpu:.1f} s of CPU in {runs} runs (budget {CPU_BUDGET} s)"
    print(f"\n{runs} runs, {kills} kills, {outages} SMTP outage, {duplicates} duplicates, "
          f"{cpu:.1f} s of sender CPU in {wall:.0f} s, "
          f"{receiver.count()} webhook requests for {REMINDERS}, {len(smtp.received)} e-mails for {REMINDERS}")
