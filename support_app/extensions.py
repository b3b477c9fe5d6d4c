"""Unbound extension singletons; `create_app` binds them to an app.

FAB's AppBuilder and Smorest's Api keep per-app registries (views, spec), so the
factory builds one of each per app: reach them as `current_app.appbuilder` and
`current_app.extensions["smorest_api"]`."""
from __future__ import annotations

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect

# One metadata for FAB's tables and ours, so Alembic sees the whole schema.
db = SQLA(metadata=Model.metadata)
migrate = Migrate(compare_type=True, render_as_batch=True)
socketio = SocketIO()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
csrf = CSRFProtect()
