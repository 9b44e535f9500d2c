"""Alembic environment: runs on the engine notifier hands over (cfg.attributes["engine"]),
or on sqlalchemy.url for offline SQL generation (``notifier db upgrade --sql``)."""

from __future__ import annotations

from alembic import context

from notifier.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from notifier.db.engine import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # Batch mode rebuilds tables; foreign keys must be off while it does, and the
            # pragma is ignored inside a transaction, so set it before Alembic begins one.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=sqlite)
        with context.begin_transaction():
            if engine.dialect.name == "postgresql":
                # Several instances starting at once on one database: one migrates, the others
                # wait here and then find the schema at head (DDL is transactional there).
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7246001)")
            context.run_migrations()
        conn.commit()
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_offline()
else:
    run_online()
