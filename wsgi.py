"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""
import gc

from support_app import create_app

app = create_app()
# Start-up leaves ~230,000 long-lived objects (FAB, SQLAlchemy, Babel); one full
# collection over them stalls every request and push for ~100 ms. Collect once
# now and move them out of the collector's sight.
gc.collect()
gc.freeze()
