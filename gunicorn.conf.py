"""Production server: `gunicorn -c gunicorn.conf.py wsgi:app`.

Two worker classes, one process each (`workers = 1`):

- `gthread` (default, base install): Socket.IO in threading mode; every open
  websocket holds one thread (`GUNICORN_THREADS` bounds the live connections), and
  one event to N clients wakes N writer threads that queue for the GIL.
- `gevent` (`GUNICORN_WORKER_CLASS=gevent` or `-k gevent`; `pip install .[scale]`):
  gevent patches the worker before the app is imported, Socket.IO picks its gevent
  mode, and a websocket is a greenlet (`GUNICORN_WORKER_CONNECTIONS` bounds them).
  The recommended realtime deployment: see README, "Realtime" (and bench/README).

Keep ONE worker per gunicorn: its load balancer has no sticky sessions, which
Socket.IO's polling transport needs. Scale out by running more of these processes
(each on its own port, all with the same REDIS_URL) behind a load balancer with
sticky sessions. Never set `preload_app`: the app must be imported after gevent's
patching (psycopg 3 picks its cooperative wait at import).
"""
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}")
workers = 1
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "100"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 10
accesslog = "-"
