"""Which stored department a name means: the one module that resolves department names.

A plan, the config and the office name departments as they write them (市发改委,
市发展和改革委员会(市开放办), an alias). ``DepartmentIndex`` resolves such a name to one
``departments`` row: ``find`` reads, ``get_or_create`` inserts what is new (import, the
planning pass). ``sync_departments`` makes the configured departments and aliases exist;
``ids_named`` and ``check_department`` answer the commands that name a department (an
unknown name is an error with the nearest known names). Used by import, the pass and status.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.config import Config
from notifier.db.engine import read_session, utcnow
from notifier.db.models import Department, DepartmentAlias
from notifier.importing.departments import aliases_of, is_group


@dataclass(frozen=True)
class DepartmentRef:
    """A stored department as the importer and the planner need it."""

    id: int
    name: str
    is_group: bool = False


class DepartmentIndex:
    """Finds the department row a name as written in a plan means (``find``, a read), or
    creates it if new (``get_or_create``, ``get_or_create_all``).

    Config names and aliases win, then names and aliases already stored. The stored names
    and aliases are read once, when first needed, and kept up to date with what the index
    inserts, so resolving n names costs O(n) in memory and one INSERT for the new ones, not
    a query (and a flush) per name."""

    def __init__(self, session: Session, config: Config):
        self.session = session
        self.config = config
        self._cache: dict[str, DepartmentRef] = {}
        self._loaded = False
        self._by_name: dict[str, DepartmentRef] = {}
        self._by_id: dict[int, DepartmentRef] = {}
        self.alias_owner: dict[str, int] = {}  # alias -> department id

    def _load(self) -> None:
        if self._loaded:
            return
        deps, aliases = Department.__table__.c, DepartmentAlias.__table__.c  # Core: cheaper to compile
        for row in self.session.execute(select(deps.id, deps.name, deps.is_group)):
            self._add(DepartmentRef(*row))
        self.alias_owner.update(self.session.execute(
            select(aliases.alias, aliases.department_id)).all())
        self._loaded = True

    def _add(self, dep: DepartmentRef) -> None:
        self._by_name[dep.name] = self._by_id[dep.id] = dep

    def find(self, name: str) -> DepartmentRef | None:
        """The stored department ``name`` means, or None: never inserts."""
        self._load()
        if name in self._cache:
            return self._cache[name]
        canonical, configured = self._canonical(name)
        dep = self._match(name, canonical, configured, self._lookup)
        return dep if isinstance(dep, DepartmentRef) else None

    def get_or_create(self, name: str) -> DepartmentRef:
        return self.get_or_create_all([name])[name]

    def get_or_create_all(self, names: Iterable[str]) -> dict[str, DepartmentRef]:
        """name -> department for every name; the new ones are inserted in one statement.

        Names are resolved in order, as if each new department were stored at once: a
        later name that is an alias of an earlier new one (市金融办 after
        市国资委(市金融办)) resolves to it."""
        self._load()
        found: dict[str, DepartmentRef | str] = {}  # a str: the canonical name of a new one
        pending: dict[str, str] = {}  # name or alias of a new department -> its canonical name
        for name in names:
            if name in found:
                continue
            if name in self._cache:
                found[name] = self._cache[name]
                continue
            canonical, configured = self._canonical(name)

            def find(key: str) -> DepartmentRef | str | None:
                return self._lookup(key) or pending.get(key)

            dep = self._match(name, canonical, configured, find)
            if dep is None:
                dep = pending[canonical] = canonical
                for alias in dict.fromkeys([*aliases_of(name), name]):
                    if alias != canonical and alias not in self.alias_owner:
                        pending.setdefault(alias, canonical)
            found[name] = dep
        if pending:
            self._insert(pending)
        out = {name: dep if isinstance(dep, DepartmentRef) else self._by_name[dep]
               for name, dep in found.items()}
        self._cache.update(out)
        return out

    def _canonical(self, name: str) -> tuple[str, bool]:
        """The name ``name`` is stored under, and whether the config knows it."""
        configured = self.config.department(name)
        for alias in aliases_of(name):  # 市发改委(市开放办): the config may know either half
            configured = configured or self.config.department(alias)
        # One way everywhere: a parenthesised alias is an alias, the name is what stands before it.
        return (configured.name if configured else aliases_of(name)[0]), configured is not None

    @staticmethod
    def _match(name: str, canonical: str, configured: bool,
               find: Callable[[str], DepartmentRef | str | None]) -> DepartmentRef | str | None:
        dep = find(canonical) or find(name)
        if dep is None and not configured:
            for alias in aliases_of(name):  # 市国资委(市金融办): either half may be known
                dep = find(alias) or dep
        return dep

    def _insert(self, pending: dict[str, str]) -> None:
        """Insert the new departments (``pending`` maps each one's canonical name to itself
        and each of its aliases to it), then their aliases."""
        now = utcnow()
        table = cast(Table, Department.__table__)
        rows = [{"name": c, "is_group": is_group(c), "created_at": now}
                for key, c in pending.items() if key == c]
        for dep_id, name, group in self.session.execute(
                insert(table).returning(table.c.id, table.c.name, table.c.is_group), rows):
            self._add(DepartmentRef(dep_id, name, group))
        aliases: list[dict[str, Any]] = [{"department_id": self._by_name[c].id, "alias": key}
                                         for key, c in pending.items() if key != c]
        for row in aliases:
            self.alias_owner[row["alias"]] = row["department_id"]
        if aliases:
            self.session.execute(insert(cast(Table, DepartmentAlias.__table__)), aliases)

    def _lookup(self, name: str) -> DepartmentRef | None:
        dep = self._by_name.get(name)
        if dep is None and name in self.alias_owner:
            dep = self._by_id.get(self.alias_owner[name])
        return dep


def sync_departments(session: Session, config: Config) -> DepartmentIndex:
    """Make every configured department and alias exist in the database; returns the
    index it used, current with what it wrote."""
    index = DepartmentIndex(session, config)
    deps = index.get_or_create_all(d.name for d in config.departments)
    for d in config.departments:
        dep = deps[d.name]
        for alias in d.aliases:
            owner = index.alias_owner.get(alias)
            if owner == dep.id:
                continue
            if owner is not None:  # config decides where an alias belongs
                session.execute(update(DepartmentAlias).where(DepartmentAlias.alias == alias)
                                .values(department_id=dep.id)
                                .execution_options(synchronize_session=False))
            else:
                session.execute(insert(cast(Table, DepartmentAlias.__table__)),
                                [{"department_id": dep.id, "alias": alias}])
            index.alias_owner[alias] = dep.id
    return index


def departments_in_sync(s: Session, config: Config) -> bool:
    """Does every configured department exist, with its aliases pointing at it? Two queries,
    so a pass (every day, every hour) does not redo ``sync_departments``' per-name work."""
    names = dict(s.execute(select(Department.name, Department.id)).all())
    aliases = dict(s.execute(select(DepartmentAlias.alias, DepartmentAlias.department_id)).all())
    for d in config.departments:
        dep_id = names.get(d.name)
        if dep_id is None or any(aliases.get(a) != dep_id for a in d.aliases):
            return False
    return True


def ids_of(session: Session, config: Config, names: Iterable[str], *, create: bool) -> list[int]:
    """The ids of the departments ``names`` mean. ``create``: the missing ones are inserted
    (a pass); otherwise they are left out (a read such as ``preview``: nothing is written)."""
    index = DepartmentIndex(session, config)
    if create:
        return [index.get_or_create(n).id for n in names]
    return [d.id for d in map(index.find, names) if d is not None]



class UnknownDepartmentError(Exception):
    """A department name that neither the config nor any imported plan knows."""

    def __init__(self, name: str, suggestions: list[str]):
        super().__init__(name)
        self.name = name
        self.suggestions = suggestions


def ids_named(s: Session, cfg: Config, name: str) -> set[int]:
    """The stored departments ``name`` means: by name or alias, in the database or the config.
    Raises UnknownDepartmentError, with the nearest known names, when nothing knows it."""
    conf = cfg.department(name)
    names = {name} | ({conf.name, *conf.aliases} if conf else set())
    ids = set(s.scalars(select(Department.id).where(Department.name.in_(names))))
    ids |= set(s.scalars(select(DepartmentAlias.department_id).where(DepartmentAlias.alias.in_(names))))
    if not ids and conf is None:
        known = {d.name for d in cfg.departments} | {a for d in cfg.departments for a in d.aliases}
        known |= set(s.scalars(select(Department.name))) | set(s.scalars(select(DepartmentAlias.alias)))
        raise UnknownDepartmentError(name, nearest(name, known))
    return ids


def nearest(name: str, known: set[str], n: int = 5) -> list[str]:
    """The known names closest to ``name``: difflib's ratio, and names containing it or
    contained in it (发改委 -> 市发改委), which a short name needs."""
    close = difflib.get_close_matches(name, sorted(known), n=n, cutoff=0.5)
    inside = sorted((k for k in known if name in k or (len(k) >= 2 and k in name)), key=len)
    return list(dict.fromkeys([*close, *inside]))[:n]


def check_department(engine: Engine, cfg: Config, name: str) -> None:
    """Raise UnknownDepartmentError unless the config or an imported plan knows ``name``."""
    with read_session(engine) as s:  # reads only: no write lock, works on a read-only file
        ids_named(s, cfg, name)
