"""Reply links: departments answer a reminder by a signed link (links.py), served by a
small Starlette app (app.py) that ``notifier serve`` and ``notifier run`` start (server.py)."""
