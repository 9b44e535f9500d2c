"""Delivery throughput: notifier's dispatcher against a bare client loop, in one run.

    .venv/bin/python bench/delivery.py [--n 10000] [--concurrency 16] [--connections 8]

- Receivers run in their own processes so they are not the bottleneck: a minimal asyncio
  HTTP/1.1 server (keep-alive, answers 200) and aiosmtpd with a handler that only counts.
- notifier: N outbox rows per channel in a SQLite file (one digest each, as the planning pass
  leaves them), then ``Dispatcher.run_once``: claim, build the request (JSON + Standard Webhooks
  signature, or the MIME e-mail), send, record. The clock runs from the pass's start to its end.
- bare: the very same bodies (and headers), pre-built, through a bare ``httpx.AsyncClient``
  loop with the same concurrency, and a bare ``aiosmtplib`` loop over the same number of SMTP
  connections. No database, no building.

The two alternate for ``--rounds`` rounds; each round's ratio compares notifier with the bare
loop run right after it, under the same load (the machine is shared, and a single run swings
by a factor of two). Prints each round, then per channel the median ratio of the rounds (the
figure to report, with the load average) and the best rate of each side. Each round also
shows the CPU per message of sender and receiver on both sides: on a busy machine, where
the cores are the bottleneck, their ratio is what the rates converge to, and it is steadier. Targets: e-mail
>= 0.85 of bare aiosmtplib, webhooks >= 0.6 of bare httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2018, 6, 20, 1, 0)
TARGET = {"webhook": 0.6, "email": 0.85}


# --- receivers (separate processes) --------------------------------------------------------


class _HTTP(asyncio.Protocol):
    count = 0
    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"

    def connection_made(self, transport):  # noqa: ANN001, ANN201
        self.transport, self.buf = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            i = head.find(b"content-length:")
            length = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            _HTTP.count += 1
            self.transport.write(self.RESPONSE)


def _serve(kind: str, conn) -> None:  # noqa: ANN001
    async def main() -> None:
        loop = asyncio.get_running_loop()
        if kind == "http":
            server = await loop.create_server(_HTTP, "127.0.0.1", 0, backlog=1024)
            counter = lambda: _HTTP.count  # noqa: E731
        else:
            from aiosmtpd.smtp import SMTP

            class Count:
                n = 0

                async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
                    Count.n += 1
                    return "250 OK"

            handler = Count()
            server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0, backlog=1024)
            counter = lambda: Count.n  # noqa: E731
        conn.send(server.sockets[0].getsockname()[1])
        done = asyncio.Event()

        def on_message() -> None:
            msg = conn.recv()
            if msg == "count":
                conn.send(counter())
            elif msg == "cpu":
                conn.send(time.process_time())
            else:
                done.set()

        loop.add_reader(conn.fileno(), on_message)
        await done.wait()
        server.close()

    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(main())


class Receiver:
    def __init__(self, kind: str):
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_serve, args=(kind, child), daemon=True)
        self.proc.start()
        self.port = self.conn.recv()

    def count(self) -> int:
        self.conn.send("count")
        return self.conn.recv()

    def cpu(self) -> float:
        """CPU seconds the receiver process has used so far."""
        self.conn.send("cpu")
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(5)


# --- the two ways of sending ---------------------------------------------------------------


def queue(engine, channel: str, recipient: str, n: int, tag: str) -> None:  # noqa: ANN001
    from tests.support.outbox import queue_rows

    # one digest per delivery, bodies of a realistic size (a few KB of Chinese text)
    queue_rows(engine, [(channel, recipient)], n=n, now=NOW, tag=tag)
    from sqlalchemy import update

    from notifier.db.models import Digest
    with engine.begin() as conn:
        line = "各责任单位要对照任务分工，倒排工期，确保按时完成。"
        conn.execute(update(Digest).values(text=Digest.text + line * 40, html=Digest.html + f"<p>{line}</p>" * 40,
                                           markdown=Digest.markdown + "各责任单位要对照任务分工。" * 40))


async def notifier_pass(engine, cfg, concurrency: int) -> tuple[float, object]:  # noqa: ANN001
    from notifier.delivery.dispatcher import Dispatcher, RetryPolicy
    from notifier.delivery.routes import Routes

    routes = Routes(cfg)
    dispatcher = Dispatcher(engine, routes, RetryPolicy(), concurrency=concurrency, batch_size=500)
    t = time.perf_counter()
    counts = await dispatcher.run_once(NOW)
    elapsed = time.perf_counter() - t
    await routes.aclose()
    return elapsed, counts


def prebuilt(engine, cfg, channel: str):  # noqa: ANN001, ANN201
    """The exact bodies notifier sent, rebuilt once, outside the clock."""
    from notifier.delivery.channels.email import email_bytes
    from notifier.delivery.channels.webhook import WebhookChannel
    from notifier.delivery.dispatcher import Dispatcher

    from sqlalchemy import update

    from notifier.db.models import Delivery
    with engine.begin() as conn:
        conn.execute(update(Delivery).values(status="pending"))
    claimed = Dispatcher(engine, lambda c, r: None).claim(NOW, 10**9)
    if channel == "webhook":
        hook = WebhookChannel("bench", "", SECRET, client=None)
        return [(b := hook.body(c.message), hook.headers(c.message, b)) for c in claimed]
    return [(c.recipient, email_bytes(c.message, cfg.email.sender)) for c in claimed]


async def bare_http(url: str, items: list, concurrency: int) -> float:
    import httpx

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency * 2,
                                                     max_keepalive_connections=concurrency)) as client:
        it = iter(items)

        async def worker() -> None:
            for body, headers in it:
                r = await client.post(url, content=body, headers=headers)
                assert r.status_code == 200

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t


async def bare_smtp(port: int, items: list, connections: int, sender: str) -> float:
    import aiosmtplib

    it = iter(items)

    async def worker() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for rcpt, data in it:
            await smtp.sendmail(sender, [rcpt], data)
        await smtp.quit()

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--connections", type=int, default=8, help="SMTP sessions, for both sides")
    p.add_argument("--rounds", type=int, default=3, help="alternate notifier and bare this many times")
    p.add_argument("--channels", default="webhook,email", help="which channels to measure (comma-separated)")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from tests.support.outbox import sqlite_engine

    from notifier.config import Config, DeliveryConfig, EmailConfig, Secret, WebhookConfig

    http, smtp = Receiver("http"), Receiver("smtp")
    url = f"http://127.0.0.1:{http.port}/hook"
    cfg = Config(path=None, delivery=DeliveryConfig(concurrency=args.concurrency),
                 email=EmailConfig(host="127.0.0.1", port=smtp.port, security="none", sender="notifier@example.gov.cn",
                                   connections=args.connections),
                 webhooks={"bench": WebhookConfig(name="bench", url=Secret(url), secret=Secret(SECRET))})
    results: dict[str, list[tuple[float, float]]] = {"webhook": [], "email": []}
    cpus: dict[str, list] = {"webhook": [], "email": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rnd in range(args.rounds):
                for channel, recipient in (("webhook", "bench"), ("email", "office@example.gov.cn")):
                    if channel not in args.channels.split(","):
                        continue
                    engine = sqlite_engine(Path(tmp) / f"{channel}{rnd}.db")
                    queue(engine, channel, recipient, args.n, channel)
                    receiver = http if channel == "webhook" else smtp
                    cpu = (time.process_time(), receiver.cpu())
                    elapsed, counts = asyncio.run(notifier_pass(engine, cfg, args.concurrency))
                    ours_cpu = (time.process_time() - cpu[0], receiver.cpu() - cpu[1])
                    assert counts.sent == args.n, f"{channel}: sent {counts.sent} of {args.n}: {counts.errors[:3]}"
                    items = prebuilt(engine, cfg, channel)
                    cpu = (time.process_time(), receiver.cpu())
                    if channel == "webhook":
                        bare = asyncio.run(bare_http(url, items, args.concurrency))
                    else:
                        bare = asyncio.run(bare_smtp(smtp.port, items, args.connections, cfg.email.sender))
                    bare_cpu = (time.process_time() - cpu[0], receiver.cpu() - cpu[1])
                    results[channel].append((args.n / elapsed, args.n / bare))
                    # CPU per message, sender + receiver: what the rate comes to when the cores
                    # are the bottleneck (a busy shared machine), and steadier than the rates.
                    cpu_ratio = sum(bare_cpu) / sum(ours_cpu)
                    cpus[channel].append((ours_cpu, bare_cpu))
                    print(f"  round {rnd + 1} {channel:8} notifier {args.n / elapsed:7.0f}/s"
                          f"   bare {args.n / bare:7.0f}/s"
                          f"   ratio {bare / elapsed:.2f}   cpu ms/message notifier {1e3 * ours_cpu[0] / args.n:.2f}"
                          f"+{1e3 * ours_cpu[1] / args.n:.2f}, bare {1e3 * bare_cpu[0] / args.n:.2f}"
                          f"+{1e3 * bare_cpu[1] / args.n:.2f} (sender+receiver; ratio {cpu_ratio:.2f})"
                          f"   load {os.getloadavg()[0]:.1f}", flush=True)
                    engine.dispose()
        received = {"webhook": http.count(), "email": smtp.count()}
    finally:
        http.stop()
        smtp.stop()
    ok = True
    print(f"{args.n} deliveries per channel and round, {args.rounds} rounds (notifier and bare alternate), "
          f"concurrency {args.concurrency}, {args.connections} SMTP sessions, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    for channel, runs in results.items():
        if not runs:
            continue
        ratio = statistics.median(ours / bare for ours, bare in runs)
        ok &= ratio >= TARGET[channel]
        cpu_ratio = statistics.median(sum(b) / sum(o) for o, b in cpus[channel])
        print(f"{channel:8} median ratio {ratio:.2f} (target >= {TARGET[channel]})   best notifier "
              f"{max(r[0] for r in runs):7.0f}/s   best bare {max(r[1] for r in runs):7.0f}/s"
              f"   median cpu ratio {cpu_ratio:.2f}"
              f"   (receiver got {received[channel]}, expected {2 * len(runs) * args.n})")
    print("targets:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
