"""Load and validate the TOML config into frozen dataclasses.

Every problem is reported as ``PATH: key.sub: what is wrong`` (all of them at once, not
just the first), so an admin fixes a config in one round. Secrets are read here from a
file or the environment and wrapped in ``Secret`` so that no repr or log line shows them.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notifier.delivery.message import header_problem as _header_problem
from notifier.terms import ROLES, Role

DEFAULT_PATH = Path("/etc/notifier/config.toml")


class ConfigError(Exception):
    """One or more problems in a config file; ``str()`` lists them, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class Secret:
    """A password, token or signing key. Never shows its value in repr/str/f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ScheduleConfig:
    cutoff_months: tuple[int, ...] = (6, 9, 12)
    lead_days: tuple[int, ...] = (30, 7, 1)
    send_at: time = time(9, 0)
    overdue_every_days: int = 3
    send_window: tuple[time, time] = (time(8, 30), time(17, 30))
    tick_seconds: int = 60
    plan_every_minutes: int = 60
    # Deliveries queued by one pass are spread this many seconds apart (0: all at once),
    # so a large digest day does not burst at the SMTP server or the chat robots.
    stagger_seconds: float = 2.0
    # Reminders about a plan stop this many days after its end; the office gets a closing report.
    after_end_days: int = 30
    # At most this many lines per section of a message, then "及其他N项".
    max_items: int = 30
    # Which roles in a task get reminded: "lead", "responsible", "cooperating".
    notify_roles: tuple[Role, ...] = (Role.LEAD,)


@dataclass(frozen=True)
class OfficeConfig:
    """The supervision office's identity: the only office name any message or page shows."""

    name: str = ""  # e.g. "市政府督查室"; empty: messages name no office
    signature: str = ""  # the line a message ends with; empty: the name
    contact: str = ""  # phone or address for questions and progress reports
    inspection: bool = False  # say "<name>将于<cutoff>对完成情况进行督查" in cutoff messages

    @property
    def sign(self) -> str:
        return self.signature or self.name


@dataclass(frozen=True)
class EscalationConfig:
    to: tuple[str, ...] = ()
    every_days: int | None = None  # working days; None: [schedule] overdue_every_days
    weekday: int | None = None  # 1..7: weekly on that day instead


@dataclass(frozen=True)
class Department:
    name: str
    aliases: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # for a group name (各县区政府): who it expands to

    @property
    def has_contact(self) -> bool:
        return bool(self.email or self.webhooks)


@dataclass(frozen=True)
class EmailConfig:
    host: str
    port: int
    security: str  # ssl | starttls | none
    sender: str  # the `from` key
    username: str | None = None
    password: Secret | None = None
    timeout: float = 30.0
    connections: int = 4
    ca_file: Path | None = None  # trust this CA bundle (a private CA) instead of the system's


@dataclass(frozen=True)
class WebhookConfig:
    name: str
    url: Secret  # chat-robot URLs carry their access token: treat the URL as a secret
    kind: str = "json"  # json | dingtalk | wecom | feishu
    secret: Secret | None = None
    at_mobiles: tuple[str, ...] = ()
    at_user_ids: tuple[str, ...] = ()
    timeout: float = 10.0


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = 8
    backoff_seconds: float = 60.0
    backoff_cap_seconds: float = 3600.0
    concurrency: int = 16
    lease_seconds: int = 300


@dataclass(frozen=True)
class WebConfig:
    """Reply links: each reminder carries per milestone a signed link to a small page."""

    enabled: bool = False  # serve the pages from `notifier run` too (in a thread)
    base_url: str | None = None  # e.g. "https://notifier.example.gov.cn"; None: no links
    secret: Secret | None = None  # HMAC key that signs the links
    listen: str = "127.0.0.1:8080"
    link_days: int = 60  # how long a link stays usable

    @property
    def links(self) -> bool:
        return bool(self.base_url and self.secret)

    @property
    def host_port(self) -> tuple[str, int]:
        return _split_host_port(self.listen)


@dataclass(frozen=True)
class MetricsConfig:
    """``/healthz`` and ``/metrics`` (notifier/web/ops.py)."""

    listen: str | None = None  # "HOST:PORT": `notifier run` serves both there; None: no listener
    on_web: bool = False  # also answer /metrics on the reply-link listener ([web] listen)

    @property
    def host_port(self) -> tuple[str, int] | None:
        return _split_host_port(self.listen) if self.listen else None


def _split_host_port(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class GradesConfig:
    """The grade ladder and the ledger's lights (notifier/office/grades.py): 红 督办 overdue;
    黄 催办 behind (not signed for within ``sign_within_days`` working days, no answer to the last
    cutoff's progress request, or - when set - ``silent_workdays`` working days without any
    answer); 蓝 提醒 inside the ``lead_days`` window; else 绿."""

    lead_days: int = 7
    silent_workdays: int = 0  # 0: never yellow for silence alone
    cutoff_answer_days: int = 30  # an answer this many days before a cutoff, or after it, answers it
    sign_within_days: int = 2  # working days a department has to sign for (签收) a reminder


@dataclass(frozen=True)
class ReviewConfig:
    """A department's done request (申请办结, notifier/review.py): with ``required`` it waits for
    the office's approval (its reminders stop meanwhile); without, it closes the item at once."""

    required: bool = True


@dataclass(frozen=True)
class ReportConfig:
    """The 通报 by e-mail: to these departments, on ``day`` of the month after each period."""

    to: tuple[str, ...] = ()
    every: str = "monthly"  # monthly | cutoff
    day: int = 5


@dataclass(frozen=True)
class Config:
    path: Path | None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    database_url: str = "sqlite:///var/notifier.db"
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    escalation_to: tuple[str, ...] = ()
    departments: tuple[Department, ...] = ()
    office: OfficeConfig = field(default_factory=OfficeConfig)
    escalation: EscalationConfig = field(default_factory=EscalationConfig)
    email: EmailConfig | None = None
    webhooks: dict[str, WebhookConfig] = field(default_factory=dict)
    folder_dir: Path = Path("var/outbox")  # the folder channel's directory; the path kept its old name
    folder_divert: bool = False
    templates_dir: Path | None = None
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()
    log_level: str = "INFO"
    web: WebConfig = field(default_factory=WebConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    grades: GradesConfig = field(default_factory=GradesConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    deprecations: tuple[str, ...] = ()  # old keys still read; check-config prints each
    review: ReviewConfig = field(default_factory=ReviewConfig)

    def department(self, name: str) -> Department | None:
        """The configured department that ``name`` is, by name or alias."""
        return self._by_name.get(name)

    def reachable(self, *names: str) -> bool:
        """Can reminders for the department any of ``names`` is (a name and its aliases) reach
        someone? Yes when it has a contact, or when it is a group all of whose members do (the
        planner reminds the members of a group, not the group)."""
        dep = next((d for d in map(self.department, names) if d is not None), None)
        if dep is None:
            return False
        return dep.has_contact or (bool(dep.members) and all(self.reachable(m) for m in dep.members))

    @cached_property
    def _by_name(self) -> dict[str, Department]:
        index = {}
        for d in self.departments:
            index[d.name] = d
            for a in d.aliases:
                index[a] = d
        return index


# ---------------------------------------------------------------- reading

class _Reader:
    """Walks one TOML table, collecting problems instead of stopping at the first."""

    def __init__(self, source: str, base_dir: Path):
        self.source = source
        self.base_dir = base_dir
        self.problems: list[str] = []

    def bad(self, key: str, what: str) -> None:
        self.problems.append(f"{self.source}: {key}: {what}")

    def table(self, data: dict, key: str, allowed: set[str]) -> dict:
        value = data.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, dict):
            self.bad(key, f"must be a table, got {_kind(value)}")
            return {}
        self.unknown(value, key, allowed)
        return value

    def unknown(self, table: dict, prefix: str, allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                hint = _close(k, allowed)
                self.bad(f"{prefix}.{k}" if prefix else k,
                         "unknown key" + (f" (did you mean {hint!r}?)" if hint else ""))

    def get(self, table: dict, prefix: str, key: str, typ: type | tuple, default: Any) -> Any:
        if key not in table:
            return default
        value = table[key]
        name = f"{prefix}.{key}" if prefix else key
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool) and typ is not bool:
            self.bad(name, f"must be {_tname(typ)}, got a boolean")
            return default
        if not isinstance(value, typ):
            self.bad(name, f"must be {_tname(typ)}, got {_kind(value)}")
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.bad(name, f"must be a finite number, got {value}")
            return default
        if isinstance(value, str) and _CONTROL.search(value):
            self.bad(name, f"must not contain control characters (line breaks, tabs, NUL), got {value!r}")
            return default
        return value

    def str_list(self, table: dict, prefix: str, key: str) -> tuple[str, ...]:
        value = self.get(table, prefix, key, list, [])
        if not all(isinstance(v, str) and v.strip() for v in value):
            self.bad(f"{prefix}.{key}" if prefix else key, "must be a list of non-empty strings")
            return ()
        for i, v in enumerate(value):
            if _CONTROL.search(v):
                self.bad(f"{prefix}.{key}[{i}]" if prefix else f"{key}[{i}]",
                         f"must not contain control characters (line breaks, tabs, NUL), got {v!r}")
                return ()
        return tuple(v.strip() for v in value)

    def hhmm(self, value: Any, name: str, default: time, end_of_day: bool = False) -> time:
        if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value):
            self.bad(name, f'must be a time "HH:MM", got {value!r}')
            return default
        if end_of_day and value == "24:00":
            return time.max  # a window open until midnight
        h, m = map(int, value.split(":"))
        if h > 23 or m > 59:
            self.bad(name, f"is not a time of day: {value!r}")
            return default
        return time(h, m)

    def secret(self, table: dict, prefix: str, what: str, required: bool = False) -> Secret | None:
        """``<what>_file`` or ``<what>_env``; a clear-text ``<what>`` is refused."""
        if what in table:
            self.bad(f"{prefix}.{what}", f"must not be written in the config; use {what}_file or {what}_env")
        file_ = self.get(table, prefix, f"{what}_file", str, None)
        env = self.get(table, prefix, f"{what}_env", str, None)
        if file_ and env:
            self.bad(prefix, f"set {what}_file or {what}_env, not both")
            return None
        if env:
            if env not in os.environ:
                self.bad(f"{prefix}.{what}_env", f"environment variable {env} is not set")
                return None
            return Secret(os.environ[env])
        if file_:
            path = _credential_path(file_, self.base_dir)
            name = f"{prefix}.{what}_file"
            try:
                with path.open("rb") as f:
                    raw = f.read(MAX_SECRET_BYTES + 1)
            except OSError as exc:
                self.bad(name, f"cannot read {path}: {exc.strerror}")
                return None
            if len(raw) > MAX_SECRET_BYTES:
                self.bad(name, f"{path} is larger than {MAX_SECRET_BYTES} bytes: not a secret file")
                return None
            try:
                value = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                self.bad(name, f"{path} is not UTF-8 text (a binary file?)")
                return None
            if _CONTROL.search(value):
                self.bad(name, f"{path} contains control characters: one line of text expected")
                return None
            return Secret(value)
        if required:
            self.bad(prefix, f"needs {what}_file or {what}_env")
        return None


# Line breaks, tabs, NUL and the other C0/C1 controls: never in a name, address, URL or path
# (a newline in a department name would forge a mail header or a log line).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_SECRET_BYTES = 4096
MAX_NAME_CHARS = 100  # a department name, alias or member (the longest real ones are ~30)
MAX_TIMEZONE_CHARS = 64

# Inclusive bounds of the numbers in the config (config.example.toml says each). A number
# outside them would fail later: a date past year 9999, a timer APScheduler cannot compute,
# a delay that overflows. A "float" low bound of 0 is exclusive (a timeout of 0 s is no use).
LIMITS: dict[str, tuple[float, float]] = {
    "schedule.overdue_every_days": (1, 365),
    "schedule.tick_seconds": (1, 3600),
    "schedule.plan_every_minutes": (1, 1440),
    "schedule.stagger_seconds": (0, 600),
    "delivery.max_attempts": (1, 1000),
    "delivery.backoff_seconds": (0, 86400),
    "delivery.backoff_cap_seconds": (0, 86400),
    "delivery.concurrency": (1, 256),
    "delivery.lease_seconds": (1, 86400),
    "email.port": (1, 65535),
    "email.timeout": (0, 600),
    "email.connections": (1, 64),
    "webhooks.*.timeout": (0, 600),
    "web.link_days": (1, 3650),
    "grades.sign_within_days": (1, 60),
}
DEFAULT_LIMIT = (0, 1_000_000)  # a number no table above names


def _limit(name: str) -> tuple[float, float]:
    if name.startswith("webhooks."):
        name = "webhooks.*." + name.rsplit(".", 1)[-1]
    return LIMITS.get(name, DEFAULT_LIMIT)


def _credential_path(name: str, base_dir: Path) -> Path:
    """A relative secret file is looked up in systemd's $CREDENTIALS_DIRECTORY first
    (LoadCredential=), then beside the config file."""
    path = Path(name)
    if path.is_absolute():
        return path
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / path).exists():
        return Path(creds) / path
    return base_dir / path


def _kind(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _tname(typ: Any) -> str:
    if isinstance(typ, tuple):
        return " or ".join(_tname(t) for t in typ)
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(typ, typ.__name__)


def _close(key: str, allowed: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.7)
    return match[0] if match else None


TOP_KEYS = {"timezone", "database", "schedule", "escalation", "departments", "email",
            "webhooks", "folder", "outbox", "templates", "delivery", "calendar", "log", "web", "office", "groups",
            "grades", "report", "metrics", "review"}


def load(path: Path | str | None = None) -> Config:
    """Read and validate a config file. ``None``: $NOTIFIER_CONFIG, else the default path;
    when that default does not exist the embedded defaults are used (see ``defaults``)."""
    if path is None:
        env = os.environ.get("NOTIFIER_CONFIG")
        if env:
            path = Path(env)
        elif not DEFAULT_PATH.exists():
            return defaults()
        else:
            path = DEFAULT_PATH
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse(data, path)


def defaults() -> Config:
    """The embedded default: SQLite under ./var and every message written to ./var/outbox."""
    return Config(path=None, folder_divert=True)


def parse(data: dict, path: Path) -> Config:
    r = _Reader(str(path), path.parent)
    r.unknown(data, "", TOP_KEYS)

    tz = _timezone(r, r.get(data, "", "timezone", str, "Asia/Shanghai"))

    db = r.table(data, "database", {"url"})
    db_url = r.get(db, "database", "url", str, Config.database_url)
    if not _database_url(r, db_url):
        db_url = Config.database_url
    if db_url.startswith("sqlite:///") and not db_url.startswith("sqlite:////"):
        # A relative SQLite path is taken relative to the config file, not the cwd,
        # so a service and an admin's shell open the same file.
        rel = db_url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            db_url = "sqlite:///" + str((path.parent / rel).resolve())

    schedule = _schedule(r, r.table(data, "schedule", {
        "cutoff_months", "lead_days", "send_at", "overdue_every_days", "send_window",
        "tick_seconds", "plan_every_minutes", "stagger_seconds", "after_end_days", "max_items",
        "notify_roles"}))

    esc = r.table(data, "escalation", {"to", "every_days", "weekday"})
    escalation_to = r.str_list(esc, "escalation", "to")
    escalation = _escalation(r, esc, escalation_to)
    office = _office(r, r.table(data, "office", {"name", "signature", "contact", "inspection"}))

    folder_dir, divert, deprecations = _folder(r, data, path)

    webhooks = _webhooks(r, data.get("webhooks", {}))
    departments = _departments(r, data.get("departments", []), webhooks)
    departments += _groups(r, data.get("groups", []), departments)
    email = _email(r, data) if "email" in data else None
    if email is None and not divert and any(d.email for d in departments):
        r.bad("email", "departments have e-mail addresses but there is no [email] section "
              "(or set [folder] divert = true)")
    known = {n for d in departments for n in (d.name, *d.aliases)}
    for i, name in enumerate(escalation_to):
        if name not in known:
            r.bad(f"escalation.to[{i}]", f"{name!r} is not a configured department")

    tpl = r.table(data, "templates", {"dir"})
    tpl_dir = r.get(tpl, "templates", "dir", str, None)
    templates_dir = (path.parent / tpl_dir) if tpl_dir else None
    if templates_dir is not None and not templates_dir.is_dir():
        r.bad("templates.dir", f"{templates_dir} is not a directory")

    dl = r.table(data, "delivery", {"max_attempts", "backoff_seconds", "backoff_cap_seconds",
                                    "concurrency", "lease_seconds"})
    delivery = DeliveryConfig(
        max_attempts=_positive(r, dl, "delivery", "max_attempts", int, DeliveryConfig.max_attempts),
        backoff_seconds=_positive(r, dl, "delivery", "backoff_seconds", float, DeliveryConfig.backoff_seconds),
        backoff_cap_seconds=_positive(r, dl, "delivery", "backoff_cap_seconds", float,
                                      DeliveryConfig.backoff_cap_seconds),
        concurrency=_positive(r, dl, "delivery", "concurrency", int, DeliveryConfig.concurrency),
        lease_seconds=_positive(r, dl, "delivery", "lease_seconds", int, DeliveryConfig.lease_seconds),
    )

    cal = r.table(data, "calendar", {"holidays", "workdays"})
    holidays = _dates(r, cal, "calendar", "holidays")
    workdays = _dates(r, cal, "calendar", "workdays")

    log = r.table(data, "log", {"level"})
    level = r.get(log, "log", "level", str, Config.log_level).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        r.bad("log.level", f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        level = "INFO"

    web = _web(r, r.table(data, "web", {"enabled", "base_url", "secret_file", "secret_env", "secret",
                                          "listen", "link_days"}))
    m = r.table(data, "metrics", {"listen", "on_web"})
    metrics = MetricsConfig(listen=_listen(r, m, "metrics", None), on_web=r.get(m, "metrics", "on_web", bool, False))

    grades, report = _grades(r, data), _report(r, data, known)
    rv = r.table(data, "review", {"required"})
    review = ReviewConfig(required=r.get(rv, "review", "required", bool, True))

    if r.problems:
        raise ConfigError(r.problems)
    return Config(
        path=path, timezone=tz, database_url=db_url, schedule=schedule,
        escalation_to=escalation_to, departments=departments, email=email, office=office,
        escalation=escalation,
        webhooks=webhooks, folder_dir=folder_dir, folder_divert=divert,
        templates_dir=templates_dir, delivery=delivery, holidays=holidays,
        workdays=workdays, log_level=level, web=web, metrics=metrics, grades=grades, report=report,
        deprecations=deprecations,
        review=review,
    )


def _folder(r: _Reader, data: dict, path: Path) -> tuple[Path, bool, tuple[str, ...]]:
    """``[folder]``: the folder channel's directory and whether every message goes there.
    ``[outbox]`` is its old name, still read: "the outbox" now means the deliveries table."""
    key = "folder"
    notes: tuple[str, ...] = ()
    if "outbox" in data:
        if "folder" in data:
            r.bad("outbox", "[outbox] is the old name of [folder]: keep only [folder]")
        else:
            key = "outbox"
            notes = (f"{r.source}: [outbox] is deprecated, rename it to [folder] (same keys)",)
    t = r.table(data, key, {"dir", "divert"})
    return (path.parent / r.get(t, key, "dir", str, "var/outbox"), r.get(t, key, "divert", bool, False), notes)


def _grades(r: _Reader, data: dict) -> GradesConfig:
    g = r.table(data, "grades", {"lead_days", "silent_workdays", "cutoff_answer_days", "sign_within_days"})
    return GradesConfig(lead_days=_positive(r, g, "grades", "lead_days", int, GradesConfig.lead_days),
                        silent_workdays=int(_non_negative(r, g, "grades", "silent_workdays",
                                                          GradesConfig.silent_workdays)),
                        cutoff_answer_days=_positive(r, g, "grades", "cutoff_answer_days", int,
                                                     GradesConfig.cutoff_answer_days),
                        sign_within_days=_positive(r, g, "grades", "sign_within_days", int,
                                                   GradesConfig.sign_within_days))


def _report(r: _Reader, data: dict, known: set[str]) -> ReportConfig:
    p = "report"
    t = r.table(data, p, {"to", "every", "day"})
    to = r.str_list(t, p, "to")
    for i, name in enumerate(to):
        if name not in known:
            r.bad(f"{p}.to[{i}]", f"{name!r} is not a configured department")
    every = r.get(t, p, "every", str, ReportConfig.every)
    if every not in ("monthly", "cutoff"):
        r.bad(f"{p}.every", f'must be "monthly" or "cutoff", got {every!r}')
        every = "monthly"
    day = r.get(t, p, "day", int, ReportConfig.day)
    if not 1 <= day <= 28:
        r.bad(f"{p}.day", f"must be a day of the month 1..28, got {day}")
        day = 5
    return ReportConfig(to=to, every=every, day=day)


def _positive(r: _Reader, table: dict, prefix: str, key: str, typ: type, default: Any) -> Any:
    """A number within its ``LIMITS`` (more than 0, whatever the table says)."""
    value = r.get(table, prefix, key, typ, default)
    low, high = _limit(f"{prefix}.{key}")
    if value <= 0:
        r.bad(f"{prefix}.{key}", f"must be greater than 0, got {value}")
        return default
    if not low <= value <= high:
        r.bad(f"{prefix}.{key}", f"must be between {low:g} and {high:g}, got {value}")
        return default
    return value


def _timezone(r: _Reader, name: str) -> ZoneInfo:
    try:
        if len(name) > MAX_TIMEZONE_CHARS:
            raise ValueError
        return ZoneInfo(name)
    # A directory ("Asia"), an over-long or odd name: zoneinfo raises OSError or ValueError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= MAX_TIMEZONE_CHARS else name[:MAX_TIMEZONE_CHARS] + "…"
        r.bad("timezone", f"unknown time zone {shown!r}")
        return ZoneInfo("Asia/Shanghai")


# What notifier migrates and tests: backend -> drivers ("postgres://" as db/engine.py reads it).
DATABASES = {"sqlite": {"pysqlite"}, "postgresql": {"psycopg", "psycopg2"}, "postgres": set()}


def _database_url(r: _Reader, url: str) -> bool:
    """A URL SQLAlchemy can open, for a database and driver we support (and migrate)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except (ArgumentError, ValueError):
        r.bad("database.url", "is not a database URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return False
    backend = u.get_backend_name()
    if backend not in DATABASES:
        r.bad("database.url", f"unknown database {backend!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return False
    driver = u.drivername.partition("+")[2]  # none given: the engine picks (db/engine.py)
    if driver and driver not in DATABASES[backend]:
        known = ", ".join(sorted(DATABASES[backend]))
        r.bad("database.url", f"unknown driver {driver!r} for {backend}: use one of {known}")
        return False
    return True


def _no_query(url: str) -> str:
    """A URL fit for an error message: a robot URL carries its token in the query."""
    return url.split("?", 1)[0]


def _http_url(r: _Reader, name: str, url: str) -> bool:
    """An http(s) URL with a host and, if it names one, a valid port."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port out of 0..65535 or not a number
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        shown = url if len(url) < 80 else url[:80] + "…"
        required = "is required and " if not url else ""
        r.bad(name, f"{required}must start with http:// or https:// and name a host "
                    f"(with a port 1..65535 if any), got {_no_query(shown)!r}")
        return False
    return True


_S = ScheduleConfig  # the defaults: written once, in the dataclasses


def _schedule(r: _Reader, s: dict) -> ScheduleConfig:
    p = "schedule"
    months = r.get(s, p, "cutoff_months", list, list(_S.cutoff_months))
    if not months or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months):
        r.bad(f"{p}.cutoff_months", f"must be a non-empty list of months 1..12, got {months!r}")
        months = list(_S.cutoff_months)
    lead = r.get(s, p, "lead_days", list, list(_S.lead_days))
    if not lead or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 366 for d in lead):
        r.bad(f"{p}.lead_days", f"must be a non-empty list of whole days 0..366, got {lead!r}")
        lead = list(_S.lead_days)
    send_at = r.hhmm(s["send_at"], f"{p}.send_at", _S.send_at) if "send_at" in s else _S.send_at
    window = _S.send_window
    if "send_window" in s:
        w = s["send_window"]
        if not (isinstance(w, list) and len(w) == 2):
            r.bad(f"{p}.send_window", f'must be ["HH:MM", "HH:MM"], got {w!r}')
        else:
            a = r.hhmm(w[0], f"{p}.send_window[0]", window[0])
            b = r.hhmm(w[1], f"{p}.send_window[1]", window[1], end_of_day=True)
            if a >= b:
                r.bad(f"{p}.send_window", "the start must be before the end")
            else:
                window = (a, b)
    if not window[0] <= send_at < window[1]:
        r.bad(f"{p}.send_at", f"{send_at:%H:%M} is outside send_window {window[0]:%H:%M}-{window[1]:%H:%M}")
    return ScheduleConfig(
        cutoff_months=tuple(sorted(set(months))),
        lead_days=tuple(sorted(set(lead), reverse=True)),
        send_at=send_at,
        overdue_every_days=_positive(r, s, p, "overdue_every_days", int, _S.overdue_every_days),
        send_window=window,
        tick_seconds=_positive(r, s, p, "tick_seconds", int, _S.tick_seconds),
        plan_every_minutes=_positive(r, s, p, "plan_every_minutes", int, _S.plan_every_minutes),
        stagger_seconds=_non_negative(r, s, p, "stagger_seconds", _S.stagger_seconds),
        after_end_days=int(_non_negative(r, s, p, "after_end_days", _S.after_end_days)),
        max_items=_positive(r, s, p, "max_items", int, _S.max_items),
        notify_roles=_roles(r, s, p),
    )


def _roles(r: _Reader, s: dict, p: str) -> tuple[Role, ...]:
    roles: tuple[str, ...] = r.str_list(s, p, "notify_roles") if "notify_roles" in s else (Role.LEAD,)
    bad = [x for x in roles if x not in ROLES]
    if bad or not roles:
        r.bad(f"{p}.notify_roles",
              f'must be a non-empty list of "lead", "responsible", "cooperating", got {list(roles)!r}')
        return (Role.LEAD,)
    return tuple(x for x in ROLES if x in roles)


def _escalation(r: _Reader, esc: dict, to: tuple[str, ...]) -> EscalationConfig:
    every = _positive(r, esc, "escalation", "every_days", int, 1) if "every_days" in esc else None
    weekday = r.get(esc, "escalation", "weekday", int, None)
    if weekday is not None and not 1 <= weekday <= 7:
        r.bad("escalation.weekday", f"must be 1 (Monday) .. 7 (Sunday), got {weekday}")
        weekday = None
    if every is not None and weekday is not None:
        r.bad("escalation", "set every_days or weekday, not both")
    return EscalationConfig(to=to, every_days=every, weekday=weekday)


def _office(r: _Reader, o: dict) -> OfficeConfig:
    p = "office"
    return OfficeConfig(name=r.get(o, p, "name", str, "").strip(), signature=r.get(o, p, "signature", str, "").strip(),
                        contact=r.get(o, p, "contact", str, "").strip(),
                        inspection=r.get(o, p, "inspection", bool, False))


def _groups(r: _Reader, items: Any, departments: tuple[Department, ...]) -> tuple[Department, ...]:
    """``[[groups]] name = "各县区政府" members = [...]``: a collective name and who it means."""
    if not isinstance(items, list):
        r.bad("groups", "must be an array of tables: [[groups]]")
        return ()
    known = {n for d in departments for n in (d.name, *d.aliases)}
    out = []
    for i, g in enumerate(items):
        p = f"groups[{i}]"
        if not isinstance(g, dict):
            r.bad(p, "must be a table")
            continue
        r.unknown(g, p, {"name", "members", "aliases"})
        name = r.get(g, p, "name", str, "").strip()
        members = r.str_list(g, p, "members")
        if not name or not members:
            r.bad(p, "needs a name and a non-empty members list")
            continue
        if name in known:
            r.bad(f"{p}.name", f"{name!r} is already a department")
            continue
        known.add(name)
        out.append(Department(name=name, aliases=r.str_list(g, p, "aliases"), members=members))
    return tuple(out)


def _non_negative(r: _Reader, table: dict, prefix: str, key: str, default: float) -> float:
    value = r.get(table, prefix, key, float, default)
    _, high = _limit(f"{prefix}.{key}")
    if not 0 <= value <= high:
        r.bad(f"{prefix}.{key}", f"must be 0 or more and at most {high:g}, got {value}")
        return default
    return value


def _web(r: _Reader, w: dict) -> WebConfig:
    p = "web"
    enabled = r.get(w, p, "enabled", bool, False)
    base_url = r.get(w, p, "base_url", str, None)
    if base_url is not None:
        _http_url(r, f"{p}.base_url", base_url)
        base_url = base_url.rstrip("/")
    secret = r.secret(w, p, "secret", required=bool(base_url) or enabled)
    if secret is not None and len(secret.reveal()) < 16:
        r.bad(p, "the link secret must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    if enabled and not base_url:
        r.bad(f"{p}.base_url", "is required when [web] enabled = true (the links point there)")
    listen = _listen(r, w, p, "127.0.0.1:8080") or "127.0.0.1:8080"
    return WebConfig(enabled=enabled, base_url=base_url, secret=secret, listen=listen,
                     link_days=_positive(r, w, p, "link_days", int, WebConfig.link_days))


def _listen(r: _Reader, table: dict, p: str, default: str | None) -> str | None:
    """A ``listen = "HOST:PORT"`` key; ``default`` when absent or wrong (and reported)."""
    listen = r.get(table, p, "listen", str, default)
    if listen is None:
        return None
    port = listen.rsplit(":", 1)[-1]
    if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}", listen) or not 0 <= int(port) < 65536:
        r.bad(f"{p}.listen", f'must be "HOST:PORT", e.g. "127.0.0.1:8080", got {listen!r}')
        return default
    return listen


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _departments(r: _Reader, items: Any, webhooks: dict[str, WebhookConfig]) -> tuple[Department, ...]:
    if not isinstance(items, list):
        r.bad("departments", "must be an array of tables: [[departments]]")
        return ()
    out: list[Department] = []
    seen: dict[str, str] = {}
    for i, d in enumerate(items):
        p = f"departments[{i}]"
        if not isinstance(d, dict):
            r.bad(p, "must be a table")
            continue
        r.unknown(d, p, {"name", "aliases", "email", "webhooks", "members"})
        name = r.get(d, p, "name", str, "").strip()
        if not name:
            r.bad(f"{p}.name", "is required")
            continue
        dep = Department(
            name=name,
            aliases=r.str_list(d, p, "aliases"),
            email=r.str_list(d, p, "email"),
            webhooks=r.str_list(d, p, "webhooks"),
            members=r.str_list(d, p, "members"),
        )
        for j, addr in enumerate(dep.email):
            if not _EMAIL.match(addr):
                r.bad(f"{p}.email[{j}]", f"{addr!r} is not an e-mail address")
        for j, hook in enumerate(dep.webhooks):
            if hook not in webhooks:
                r.bad(f"{p}.webhooks[{j}]", f"no [webhooks.{hook}] section")
        for n in (dep.name, *dep.aliases, *dep.members):
            if len(n) > MAX_NAME_CHARS:
                r.bad(p, f"the name {n[:20]!r}… is longer than {MAX_NAME_CHARS} characters")
        for n in (dep.name, *dep.aliases):
            if n in seen:
                r.bad(p, f"{n!r} already names {seen[n]!r}")
            seen[n] = dep.name
        out.append(dep)
    return tuple(out)


def _email(r: _Reader, data: dict) -> EmailConfig | None:
    p = "email"
    e = r.table(data, p, {"host", "port", "security", "username", "password_file",
                          "password_env", "password", "from", "timeout", "connections", "ca_file",
                          "allow_plaintext_auth"})
    host = r.get(e, p, "host", str, "")
    if not host:
        r.bad(f"{p}.host", "is required")
    security = r.get(e, p, "security", str, "starttls")
    if security not in {"ssl", "starttls", "none"}:
        r.bad(f"{p}.security", f'must be "ssl", "starttls" or "none", got {security!r}')
    port = _positive(r, e, p, "port", int, {"ssl": 465, "starttls": 587}.get(security, 25))
    sender = r.get(e, p, "from", str, "")
    if not _EMAIL.match(sender.rsplit("<", 1)[-1].rstrip(">").strip() or "x"):
        r.bad(f"{p}.from", f"must be an e-mail address, got {sender!r}")
    elif problem := _header_problem("From", sender):  # a line break would forge header lines
        r.bad(f"{p}.from", problem)
    username = r.get(e, p, "username", str, None)
    password = r.secret(e, p, "password", required=bool(username))
    # Without TLS, AUTH sends the password readable by anyone on the path: only on request.
    allow_plaintext_auth = r.get(e, p, "allow_plaintext_auth", bool, False)
    if security == "none" and username and not allow_plaintext_auth:
        r.bad(f"{p}.security", '"none" with a username would send the SMTP password in clear text; '
                               'use "starttls" or "ssl", or set allow_plaintext_auth = true '
                               "if the link to the server is trusted (e.g. localhost)")
    ca = r.get(e, p, "ca_file", str, None)
    ca_file = (r.base_dir / ca) if ca else None
    if ca_file is not None and not ca_file.is_file():
        r.bad(f"{p}.ca_file", f"{ca_file} is not a file")
    return EmailConfig(host=host, port=port, security=security, sender=sender,
                       username=username, password=password, ca_file=ca_file,
                       timeout=_positive(r, e, p, "timeout", float, EmailConfig.timeout),
                       connections=_positive(r, e, p, "connections", int, EmailConfig.connections))


def _webhooks(r: _Reader, table: Any) -> dict[str, WebhookConfig]:
    if not isinstance(table, dict):
        r.bad("webhooks", "must be a table of [webhooks.NAME] sections")
        return {}
    out = {}
    for name, w in table.items():
        p = f"webhooks.{name}"
        if _CONTROL.search(name):
            r.bad(f"webhooks.{name!r}", "the name must not contain control characters")
            continue
        if not isinstance(w, dict):
            r.bad(p, "must be a table")
            continue
        r.unknown(w, p, {"url", "kind", "secret_file", "secret_env", "secret",
                         "at_mobiles", "at_user_ids", "timeout"})
        url = r.get(w, p, "url", str, "")
        _http_url(r, f"{p}.url", url)
        kind = r.get(w, p, "kind", str, WebhookConfig.kind)
        if kind not in {"json", "dingtalk", "wecom", "feishu"}:
            r.bad(f"{p}.kind", f'must be "json", "dingtalk", "wecom" or "feishu", got {kind!r}')
        out[name] = WebhookConfig(
            name=name, url=Secret(url), kind=kind, secret=r.secret(w, p, "secret"),
            at_mobiles=r.str_list(w, p, "at_mobiles"), at_user_ids=r.str_list(w, p, "at_user_ids"),
            timeout=_positive(r, w, p, "timeout", float, WebhookConfig.timeout),
        )
    return out


def _dates(r: _Reader, table: dict, prefix: str, key: str) -> tuple[date, ...]:
    values = r.get(table, prefix, key, list, [])
    out = []
    for i, v in enumerate(values):
        if isinstance(v, date):
            out.append(v)
            continue
        try:
            out.append(date.fromisoformat(v))
        except (TypeError, ValueError):
            r.bad(f"{prefix}.{key}[{i}]", f"must be a date like 2027-10-01, got {v!r}")
    return tuple(out)
