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

`GUNICORN_WORKERS` > 1 is for processes whose clients use the websocket transport only
(no long-polling), e.g. a REST-only pool. Metrics then need PROMETHEUS_MULTIPROC_DIR
(an empty directory for this server alone): the hooks below empty it at start and mark
each dead worker, so a scrape of any worker reports the sum over the live ones.

gunicorn's access log is off: the app writes one line per request itself, with its
request id and URL rule and without the query string (`GUNICORN_ACCESSLOG=-` restores it).
"""
import glob
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}")
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "100"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None


def on_starting(server):
    """Values of a previous run's processes would be summed with ours: start empty."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for kind in ("counter", "gauge_*", "histogram", "summary"):  # prometheus_client's files only
            for path in glob.glob(os.path.join(directory, f"{kind}_*.db")):
                os.remove(path)


def child_exit(server, worker):
    """A dead worker's live gauges (connections, pool use) leave the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
