"""Load and validate the TOML config into frozen dataclasses.

Every problem is reported as ``PATH: key.sub: what is wrong`` (all of them at once, not
just the first), so an admin fixes a config in one round. Secrets are read here from a
file or the environment and wrapped in ``Secret`` so that no repr or log line shows them.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    notify_roles: tuple[str, ...] = ("lead",)


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
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class GradesConfig:
    """The ledger's traffic lights (notifier/office/grades.py): 红 overdue; 黄 behind (no answer
    to the last cutoff's progress request, or ``silent_workdays`` working days without any
    answer); 蓝 due within ``lead_days``; else 绿."""

    lead_days: int = 7
    silent_workdays: int = 20  # 0: never yellow for silence alone
    cutoff_answer_days: int = 30  # an answer this many days before a cutoff, or after it, answers it


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
    outbox_dir: Path = Path("var/outbox")
    outbox_divert: bool = False
    templates_dir: Path | None = None
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()
    log_level: str = "INFO"
    web: WebConfig = field(default_factory=WebConfig)
    grades: GradesConfig = field(default_factory=GradesConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

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
        return value

    def str_list(self, table: dict, prefix: str, key: str) -> tuple[str, ...]:
        value = self.get(table, prefix, key, list, [])
        if not all(isinstance(v, str) and v.strip() for v in value):
            self.bad(f"{prefix}.{key}" if prefix else key, "must be a list of non-empty strings")
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
            try:
                return Secret(path.read_text(encoding="utf-8").strip())
            except OSError as exc:
                self.bad(f"{prefix}.{what}_file", f"cannot read {path}: {exc.strerror}")
                return None
        if required:
            self.bad(prefix, f"needs {what}_file or {what}_env")
        return None


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
            "webhooks", "outbox", "templates", "delivery", "calendar", "log", "web", "office", "groups",
            "grades", "report"}
ROLES = ("lead", "responsible", "cooperating")


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
    return Config(path=None, outbox_divert=True)


def parse(data: dict, path: Path) -> Config:
    r = _Reader(str(path), path.parent)
    r.unknown(data, "", TOP_KEYS)

    tz_name = r.get(data, "", "timezone", str, "Asia/Shanghai")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.bad("timezone", f"unknown time zone {tz_name!r}")
        tz = ZoneInfo("Asia/Shanghai")

    db = r.table(data, "database", {"url"})
    db_url = r.get(db, "database", "url", str, "sqlite:///var/notifier.db")
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

    outbox = r.table(data, "outbox", {"dir", "divert"})
    outbox_dir = path.parent / r.get(outbox, "outbox", "dir", str, "var/outbox")
    divert = r.get(outbox, "outbox", "divert", bool, False)

    webhooks = _webhooks(r, data.get("webhooks", {}))
    departments = _departments(r, data.get("departments", []), webhooks)
    departments += _groups(r, data.get("groups", []), departments)
    email = _email(r, data) if "email" in data else None
    if email is None and not divert and any(d.email for d in departments):
        r.bad("email", "departments have e-mail addresses but there is no [email] section "
              "(or set [outbox] divert = true)")
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
        max_attempts=_positive(r, dl, "delivery", "max_attempts", int, 8),
        backoff_seconds=_positive(r, dl, "delivery", "backoff_seconds", float, 60.0),
        backoff_cap_seconds=_positive(r, dl, "delivery", "backoff_cap_seconds", float, 3600.0),
        concurrency=_positive(r, dl, "delivery", "concurrency", int, 16),
        lease_seconds=_positive(r, dl, "delivery", "lease_seconds", int, 300),
    )

    cal = r.table(data, "calendar", {"holidays", "workdays"})
    holidays = _dates(r, cal, "calendar", "holidays")
    workdays = _dates(r, cal, "calendar", "workdays")

    log = r.table(data, "log", {"level"})
    level = r.get(log, "log", "level", str, "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        r.bad("log.level", f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        level = "INFO"

    web = _web(r, r.table(data, "web", {"enabled", "base_url", "secret_file", "secret_env", "secret",
                                          "listen", "link_days"}))

    grades, report = _grades(r, data), _report(r, data, known)

    if r.problems:
        raise ConfigError(r.problems)
    return Config(
        path=path, timezone=tz, database_url=db_url, schedule=schedule,
        escalation_to=escalation_to, departments=departments, email=email, office=office,
        escalation=escalation,
        webhooks=webhooks, outbox_dir=outbox_dir, outbox_divert=divert,
        templates_dir=templates_dir, delivery=delivery, holidays=holidays,
        workdays=workdays, log_level=level, web=web, grades=grades, report=report,
    )


def _grades(r: _Reader, data: dict) -> GradesConfig:
    g = r.table(data, "grades", {"lead_days", "silent_workdays", "cutoff_answer_days"})
    return GradesConfig(lead_days=_positive(r, g, "grades", "lead_days", int, 7),
                        silent_workdays=int(_non_negative(r, g, "grades", "silent_workdays", 20)),
                        cutoff_answer_days=_positive(r, g, "grades", "cutoff_answer_days", int, 30))


def _report(r: _Reader, data: dict, known: set[str]) -> ReportConfig:
    p = "report"
    t = r.table(data, p, {"to", "every", "day"})
    to = r.str_list(t, p, "to")
    for i, name in enumerate(to):
        if name not in known:
            r.bad(f"{p}.to[{i}]", f"{name!r} is not a configured department")
    every = r.get(t, p, "every", str, "monthly")
    if every not in ("monthly", "cutoff"):
        r.bad(f"{p}.every", f'must be "monthly" or "cutoff", got {every!r}')
        every = "monthly"
    day = r.get(t, p, "day", int, 5)
    if not 1 <= day <= 28:
        r.bad(f"{p}.day", f"must be a day of the month 1..28, got {day}")
        day = 5
    return ReportConfig(to=to, every=every, day=day)


def _positive(r: _Reader, table: dict, prefix: str, key: str, typ: type, default: Any) -> Any:
    value = r.get(table, prefix, key, typ, default)
    if value <= 0:
        r.bad(f"{prefix}.{key}", f"must be greater than 0, got {value}")
        return default
    return value


def _schedule(r: _Reader, s: dict) -> ScheduleConfig:
    p = "schedule"
    months = r.get(s, p, "cutoff_months", list, [6, 9, 12])
    if not months or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months):
        r.bad(f"{p}.cutoff_months", f"must be a non-empty list of months 1..12, got {months!r}")
        months = [6, 9, 12]
    lead = r.get(s, p, "lead_days", list, [30, 7, 1])
    if not lead or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 366 for d in lead):
        r.bad(f"{p}.lead_days", f"must be a non-empty list of whole days 0..366, got {lead!r}")
        lead = [30, 7, 1]
    send_at = r.hhmm(s["send_at"], f"{p}.send_at", time(9, 0)) if "send_at" in s else time(9, 0)
    window = (time(8, 30), time(17, 30))
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
        overdue_every_days=_positive(r, s, p, "overdue_every_days", int, 3),
        send_window=window,
        tick_seconds=_positive(r, s, p, "tick_seconds", int, 60),
        plan_every_minutes=_positive(r, s, p, "plan_every_minutes", int, 60),
        stagger_seconds=_non_negative(r, s, p, "stagger_seconds", 2.0),
        after_end_days=int(_non_negative(r, s, p, "after_end_days", 30)),
        max_items=_positive(r, s, p, "max_items", int, 30),
        notify_roles=_roles(r, s, p),
    )


def _roles(r: _Reader, s: dict, p: str) -> tuple[str, ...]:
    roles = r.str_list(s, p, "notify_roles") if "notify_roles" in s else ("lead",)
    bad = [x for x in roles if x not in ROLES]
    if bad or not roles:
        r.bad(f"{p}.notify_roles", f'must be a non-empty list of "lead", "responsible", "cooperating", got {list(roles)!r}')
        return ("lead",)
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
    if value < 0:
        r.bad(f"{prefix}.{key}", f"must be 0 or more, got {value}")
        return default
    return value


def _web(r: _Reader, w: dict) -> WebConfig:
    p = "web"
    enabled = r.get(w, p, "enabled", bool, False)
    base_url = r.get(w, p, "base_url", str, None)
    if base_url is not None:
        if not re.match(r"^https?://[^/\s]+", base_url):
            r.bad(f"{p}.base_url", f"must start with http:// or https:// and name a host, got {base_url!r}")
        base_url = base_url.rstrip("/")
    secret = r.secret(w, p, "secret", required=bool(base_url) or enabled)
    if secret is not None and len(secret.reveal()) < 16:
        r.bad(p, "the link secret must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    if enabled and not base_url:
        r.bad(f"{p}.base_url", "is required when [web] enabled = true (the links point there)")
    listen = r.get(w, p, "listen", str, "127.0.0.1:8080")
    if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}", listen) or not 0 <= int(listen.rsplit(":", 1)[1]) < 65536:
        r.bad(f"{p}.listen", f'must be "HOST:PORT", e.g. "127.0.0.1:8080", got {listen!r}')
        listen = "127.0.0.1:8080"
    return WebConfig(enabled=enabled, base_url=base_url, secret=secret, listen=listen,
                     link_days=_positive(r, w, p, "link_days", int, 60))


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
    port = r.get(e, p, "port", int, {"ssl": 465, "starttls": 587}.get(security, 25))
    sender = r.get(e, p, "from", str, "")
    if not _EMAIL.match(sender.rsplit("<", 1)[-1].rstrip(">").strip() or "x"):
        r.bad(f"{p}.from", f"must be an e-mail address, got {sender!r}")
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
                       timeout=_positive(r, e, p, "timeout", float, 30.0),
                       connections=_positive(r, e, p, "connections", int, 4))


def _webhooks(r: _Reader, table: Any) -> dict[str, WebhookConfig]:
    if not isinstance(table, dict):
        r.bad("webhooks", "must be a table of [webhooks.NAME] sections")
        return {}
    out = {}
    for name, w in table.items():
        p = f"webhooks.{name}"
        if not isinstance(w, dict):
            r.bad(p, "must be a table")
            continue
        r.unknown(w, p, {"url", "kind", "secret_file", "secret_env", "secret",
                         "at_mobiles", "at_user_ids", "timeout"})
        url = r.get(w, p, "url", str, "")
        if not re.match(r"^https?://", url):
            r.bad(f"{p}.url", "is required and must start with http:// or https://")
        kind = r.get(w, p, "kind", str, "json")
        if kind not in {"json", "dingtalk", "wecom", "feishu"}:
            r.bad(f"{p}.kind", f'must be "json", "dingtalk", "wecom" or "feishu", got {kind!r}')
        out[name] = WebhookConfig(
            name=name, url=Secret(url), kind=kind, secret=r.secret(w, p, "secret"),
            at_mobiles=r.str_list(w, p, "at_mobiles"), at_user_ids=r.str_list(w, p, "at_user_ids"),
            timeout=_positive(r, w, p, "timeout", float, 10.0),
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
