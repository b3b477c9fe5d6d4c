"""Production server: `gunicorn -c gunicorn.conf.py wsgi:app`.

Socket.IO runs in threading mode with simple-websocket, which gunicorn serves with
its threaded worker: every open websocket holds one thread, so `threads` bounds the
live connections of a process. Keep ONE worker per gunicorn: its load balancer has
no sticky sessions, which Socket.IO's polling transport needs. Scale out by running
more of these processes (each on its own port, all with the same REDIS_URL) behind
a load balancer with sticky sessions (see README, "Realtime").
"""
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}")
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "100"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 10
accesslog = "-"
