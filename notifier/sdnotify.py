"""systemd's notify protocol (READY=1, STATUS=…, WATCHDOG=1, STOPPING=1), without a dependency.

A no-op when not started by systemd (no $NOTIFY_SOCKET)."""

from __future__ import annotations

import os
import socket
import time


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


def watchdog_seconds() -> float | None:
    """systemd's WatchdogSec= for this process ($WATCHDOG_USEC), or None when there is none.

    $WATCHDOG_PID, when set, names the process that must feed it: a child that inherited the
    environment does not."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


def reloading() -> bool:
    """Tell systemd a reload began (RELOADING=1 needs MONOTONIC_USEC since systemd 253)."""
    return notify(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")
