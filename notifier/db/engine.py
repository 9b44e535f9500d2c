"""Engine and sessions: SQLite pragmas, write transactions, Alembic upgrades."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Naive UTC, as every timestamp column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL. SQLite gets its pragmas and write transactions;
    a bare ``postgresql://`` uses psycopg 3 (the ``postgres`` extra) unless psycopg2 is there."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(_driver(url), pool_pre_ping=True)


def _driver(url: str) -> str:
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            try:
                import psycopg2  # noqa: F401
            except ImportError:
                return "postgresql+psycopg://" + url[len(bare):]
            return "postgresql://" + url[len(bare):]
    return url


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    read_only = False
    if path and path != ":memory:":
        read_only = Path(path).exists() and not os.access(path, os.W_OK)
        if not read_only:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if read_only:
        eng = create_engine("sqlite://", creator=lambda: _open_read_only(path))
    else:
        eng = create_engine(url, connect_args={"timeout": 15})

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi, _record) -> None:  # noqa: ANN001
        # pysqlite's own transaction handling would start a deferred transaction that
        # fails with "database is locked" when it later writes; we begin ourselves.
        dbapi.isolation_level = None
        pragmas = ("busy_timeout=15000", "foreign_keys=ON") if read_only else (
            "journal_mode=WAL", "busy_timeout=15000", "foreign_keys=ON", "synchronous=NORMAL")
        for pragma in pragmas:
            dbapi.execute(f"PRAGMA {pragma}")

    @event.listens_for(eng, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # A write transaction takes the write lock at once: a deferred one that writes after
        # another connection committed fails with "database is locked", busy timeout or not. A
        # read session (``read_session``) or a read-only file begins deferred and never asks for it.
        deferred = read_only or conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return eng


def _open_read_only(path: str):  # noqa: ANN202
    """A file we may not write: opened read-only. A WAL database needs its -shm file; when
    that is missing and cannot be created (a read-only directory), no writer is active, and
    the file is opened as immutable."""
    import sqlite3
    from urllib.parse import quote

    shm = Path(path + "-shm")
    immutable = not shm.exists() and not os.access(Path(path).parent, os.W_OK)
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, timeout=15, check_same_thread=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One short write transaction: commit on success, roll back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


READ_ONLY = "notifier_read_only"  # execution option: this connection only reads


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """One read-only transaction, rolled back at the end. On SQLite it begins deferred: it
    waits for no writer and works on a database file we may only read (``status``,
    ``milestones``). A write inside it fails."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        with Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.rollback()


def alembic_config(engine: Engine | None = None, url: str | None = None):  # noqa: ANN201
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("notifier.migrations")))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head", sql: bool = False, start: str | None = None) -> bool:
    """Bring the schema to ``revision``. With ``sql``, print the SQL from ``start`` (None: an
    empty database) instead, for review, and return False when there is nothing to print.

    Offline SQL needs only the dialect, so the URL handed to Alembic has its password masked."""
    from alembic import command

    if sql:
        cfg = alembic_config(url=engine.url.render_as_string(hide_password=True))
        if start is not None and start == head_revision(cfg):
            return False
        command.upgrade(cfg, f"{start}:{revision}" if start else revision, sql=True)
        return True
    command.upgrade(alembic_config(engine), revision)
    return True


def head_revision(cfg=None) -> str:  # noqa: ANN001
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(cfg or alembic_config()).get_current_head()
    assert head is not None  # the migrations have one head
    return head


def revisions() -> list[str]:
    """Every migration, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class BackupError(Exception):
    pass


def backup(engine: Engine, target: Path) -> int:
    """Copy a SQLite database to ``target`` with SQLite's online backup API.

    Safe while the daemon runs: the copy is one consistent snapshot (WAL content included),
    written to a temporary file beside ``target`` and renamed into place. Returns its size."""
    import os
    import sqlite3

    if engine.dialect.name != "sqlite":
        raise BackupError(f"backup: {engine.dialect.name} databases are backed up with their own tool; "
                          "for PostgreSQL use pg_dump, e.g. `pg_dump -Fc -f notifier.dump DBNAME` "
                          "(restore with pg_restore)")
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"backup: {target} is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    raw = engine.raw_connection()
    try:
        dst = sqlite3.connect(tmp)
        try:
            raw.driver_connection.backup(dst)  # type: ignore[union-attr]  # a SQLite connection here
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            ok = dst.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            dst.close()
        if ok != "ok":
            raise BackupError(f"backup: the copy failed its check: {ok}")
        os.replace(tmp, target)
    except sqlite3.Error as exc:
        raise BackupError(f"backup: {exc}") from None
    finally:
        raw.close()
        tmp.unlink(missing_ok=True)
    return target.stat().st_size


# The due index's session hook (every ORM change that can move a reminder marks its
# departments due) is registered with the module; every session of the project comes from here.
import notifier.due_index  # noqa: E402,F401
