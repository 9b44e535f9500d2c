"""The test helpers, one of each, imported as ``tests.support.<module>`` by every test:

- ``paths``: the repository and its fixtures;
- ``config``: the one config writer (``write_toml``);
- ``world``: a config, a migrated SQLite database and a small plan to run passes in;
- ``channels``: the in-memory recorder channel (the one fake seam);
- ``servers``: real SMTP, HTTP and sd_notify peers on localhost;
- ``http``: httpx's clients sharing one verifying SSL context;
- ``templates``: compiled Jinja templates kept in memory for the run;
- ``database``: a test's database at head (a new SQLite file is a copy of a template migrated once);
- ``outbox``: the outbox filled straight in the database, and what became of its rows;
- ``processes``: ``notifier`` and its daemon in a subprocess;
- ``office``: the office pages served with two accounts and logged-in clients;
- ``hostile_files``: damaged and oversized plan files, and imports measured in a child process;
- ``verify_webhook``: a receiver's check of a Standard Webhooks signature.

Fixtures stay in ``conftest.py`` files; these modules hold no fixtures.
"""
