"""Configuration: safe defaults for the embedded (SQLite, one process) setup,
overridden by environment variables for a scaled deployment."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from .security.passwords import validate_password

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
FAB_TRANSLATIONS = TRANSLATIONS / "flask_appbuilder"  # FAB's UI strings where FAB ships no catalog
INSTANCE = Path(os.environ.get("SUPPORT_INSTANCE_PATH", ROOT / "instance"))

LANGUAGES = {
    "en": {"flag": "gb", "name": "English"},
    "es": {"flag": "es", "name": "Español"},
    "fr": {"flag": "fr", "name": "Français"},
    "ar": {"flag": "sa", "name": "العربية"},
    "bn": {"flag": "bd", "name": "বাংলা"},
}


def _persistent_secret(instance: Path) -> str:
    """A secret generated once per installation, never a constant in code."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the dialect "postgres".
        return url.replace("postgres://", "postgresql://", 1)
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'support.db'}"


class Config:
    """Read once at start-up; every key can be overridden by `create_app(config)`."""

    def __init__(self) -> None:
        env = os.environ
        self.ENV_NAME = env.get("SUPPORT_ENV", "development")
        self.SECRET_KEY = env.get("SECRET_KEY") or _persistent_secret(INSTANCE)
        self.SQLALCHEMY_DATABASE_URI = _database_url(INSTANCE)
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        # database.configure adds the rest; parameters (passwords, bodies) never reach logs.
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"hide_parameters": True}
        self.DB_CONNECT_TIMEOUT = int(env.get("DB_CONNECT_TIMEOUT", 5))
        self.DB_STATEMENT_TIMEOUT_MS = int(env.get("DB_STATEMENT_TIMEOUT_MS", 15000))
        self.DB_POOL_SIZE = int(env.get("DB_POOL_SIZE", 10))
        self.REDIS_URL = env.get("REDIS_URL") or None
        # Socket.IO: processes sharing one REDIS_URL must share the channel name.
        self.SOCKETIO_CHANNEL = env.get("SOCKETIO_CHANNEL", "support-socketio")
        self.SOCKETIO_REDIS_CONNECT_TIMEOUT = float(env.get("SOCKETIO_REDIS_CONNECT_TIMEOUT", 2))
        # threading | gevent; unset: gevent under `gunicorn -k gevent`, else threading.
        self.SOCKETIO_ASYNC_MODE = env.get("SOCKETIO_ASYNC_MODE") or None
        # Browser origins (scheme://host[:port], comma-separated) of customer apps whose
        # pages may open a socket while our dashboard cookie is in the browser; the
        # dashboard's own origin is always allowed.
        self.SOCKETIO_ALLOWED_ORIGINS = _list(env.get("SOCKETIO_ALLOWED_ORIGINS"))
        # Reverse proxies in front of the app (X-Forwarded-For/-Proto/-Host hops to
        # trust, Werkzeug's ProxyFix); 0 reads the client address from the socket.
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", 0))
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", 10 * 1024 * 1024))

        # Operations (support_app/ops): logs, health checks, metrics
        self.LOG_FORMAT = env.get("LOG_FORMAT", "text")  # text | json (one object a line)
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()
        self.HEALTH_CHECK_TIMEOUT = float(env.get("HEALTH_CHECK_TIMEOUT", 2))
        self.METRICS_ENABLED = _bool("METRICS_ENABLED", False)
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        # Old keys still accepted for sessions while SECRET_KEY is rotated (README, Operations).
        self.SECRET_KEY_FALLBACKS = [k for k in env.get("SECRET_KEY_FALLBACKS", "").split(",") if k]

        # Flask-AppBuilder
        self.APP_NAME = env.get("APP_NAME", "Support Desk")
        self.FAB_CREATE_DB = False  # Alembic owns the schema
        # Permissions are synced by `flask support init`, never as a start-up side effect.
        self.FAB_UPDATE_PERMS = _bool("FAB_UPDATE_PERMS", False)
        self.FAB_SECURITY_MANAGER_CLASS = "support_app.security.manager.SupportSecurityManager"
        self.FAB_PASSWORD_COMPLEXITY_ENABLED = True
        # FAB calls this object (a dotted-path string would raise TypeError on every form).
        self.FAB_PASSWORD_COMPLEXITY_VALIDATOR = validate_password
        self.FAB_INDEX_VIEW = "support_app.admin.dashboard.DashboardIndexView"
        self.FAB_BASE_TEMPLATE = "admin/base.html"  # FAB's layout plus the live ticket badge
        self.AUTH_TYPE = 1  # AUTH_DB
        self.AUTH_USERNAME_CI = True
        self.AUTH_RATE_LIMITED = True
        self.AUTH_RATE_LIMIT = env.get("AUTH_RATE_LIMIT", "10 per 20 second")
        # Sign-ups (customers and agents share one budget): each answers "email taken".
        self.REGISTER_RATE_LIMIT = env.get("REGISTER_RATE_LIMIT", "5 per minute;30 per hour")
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True  # Redis down: serve, do not 500
        self.LANGUAGES = LANGUAGES
        self.BABEL_DEFAULT_LOCALE = "en"
        # FAB puts its own catalogs first; later directories override earlier ones.
        self.BABEL_TRANSLATION_DIRECTORIES = f"{TRANSLATIONS};{FAB_TRANSLATIONS}"

        # Sessions and CSRF
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.WTF_CSRF_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None
        # Forms (FAB's FlaskForm) check their own token; cookie-authenticated JSON
        # endpoints call csrf.protect() themselves; bearer-token APIs need none.
        self.WTF_CSRF_CHECK_DEFAULT = False

        # Tokens (flask-jwt-extended, the library FAB uses)
        self.JWT_SECRET_KEY = env.get("JWT_SECRET_KEY") or self.SECRET_KEY
        self.JWT_ACCESS_TOKEN_EXPIRES = int(env.get("JWT_ACCESS_TOKEN_EXPIRES", 3600))
        self.JWT_REFRESH_TOKEN_EXPIRES = int(env.get("JWT_REFRESH_TOKEN_EXPIRES", 30 * 86400))

        # OpenAPI (flask-smorest)
        self.API_TITLE = "support_app API"
        self.API_VERSION = "1.0"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/static/swagger-ui/"

        # Email
        self.MAIL_SERVER = env.get("MAIL_SERVER") or None
        self.MAIL_PORT = int(env.get("MAIL_PORT", 25))
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD") or None
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER", "support@localhost")
        self.MAIL_MAX_ATTEMPTS = int(env.get("MAIL_MAX_ATTEMPTS", 5))
        self.MAIL_REPLY_TO = env.get("MAIL_REPLY_TO") or None  # the inbound address, if separate
        self.MAIL_TIMEOUT = float(env.get("MAIL_TIMEOUT", 10))
        self.MAIL_RETRY_BASE_SECONDS = float(env.get("MAIL_RETRY_BASE_SECONDS", 30))
        self.MAIL_RETRY_MAX_SECONDS = float(env.get("MAIL_RETRY_MAX_SECONDS", 3600))
        self.MAIL_POLL_SECONDS = float(env.get("MAIL_POLL_SECONDS", 15))
        self.MAIL_BACKGROUND = _bool("MAIL_BACKGROUND", True)
        # A staff reply's files ride in its email up to this total; above it, links.
        self.MAIL_ATTACHMENT_MAX_BYTES = int(env.get("MAIL_ATTACHMENT_MAX_BYTES",
                                                     10 * 1024 * 1024))
        # Those links (security/file_links.py): signed per file and customer, no sign-in.
        self.FILE_LINK_MAX_AGE = int(env.get("FILE_LINK_MAX_AGE", 30 * 86400))
        self.FILE_LINK_RATE_LIMIT = env.get("FILE_LINK_RATE_LIMIT", "30 per minute")
        self.MAILGUN_SIGNING_KEY = env.get("MAILGUN_SIGNING_KEY") or None
        self.MAILGUN_MAX_AGE = int(env.get("MAILGUN_MAX_AGE", 15 * 60))
        # Email ownership (security/email_ownership.py)
        self.EMAIL_CONFIRM_MAX_AGE = int(env.get("EMAIL_CONFIRM_MAX_AGE", 48 * 3600))
        self.EMAIL_CONFIRM_URL = env.get("EMAIL_CONFIRM_URL") or None  # with {token}
        # Where emailed links point: never the request's Host header, which a client sets.
        self.PUBLIC_URL = env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
        self.EMAIL_CONFIRM_RESEND_LIMIT = env.get("EMAIL_CONFIRM_RESEND_LIMIT", "3 per 10 minute")
        # Taking over an unconfirmed account (security/account_claim.py)
        self.ACCOUNT_CLAIM_URL = env.get("ACCOUNT_CLAIM_URL") or None  # with {token}
        self.ACCOUNT_CLAIM_INTERVAL = int(env.get("ACCOUNT_CLAIM_INTERVAL", 600))

        # Attachments (support_app/attachments): limits, types decided from the bytes,
        # where the files live (a folder every server process shares, at scale).
        self.ATTACHMENT_MAX_BYTES = int(env.get("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))
        self.ATTACHMENTS_PER_MESSAGE = int(env.get("ATTACHMENTS_PER_MESSAGE", 10))
        self.ATTACHMENT_UNUSED_MAX = int(env.get("ATTACHMENT_UNUSED_MAX", 20))
        self.ATTACHMENT_TYPES = _list(env.get("ATTACHMENT_TYPES")) or None  # None: defaults
        self.ATTACHMENT_STORAGE_PATH = env.get("ATTACHMENT_STORAGE_PATH") or str(
            INSTANCE / "attachments")
        # `s3`: an S3-compatible bucket instead (attachments/s3.py, the `s3` extra);
        # credentials from boto3's own chain (AWS_* variables, ~/.aws, instance role).
        self.ATTACHMENT_STORAGE = env.get("ATTACHMENT_STORAGE", "local").strip().lower()
        self.ATTACHMENT_S3_BUCKET = env.get("ATTACHMENT_S3_BUCKET") or None
        self.ATTACHMENT_S3_ENDPOINT_URL = env.get("ATTACHMENT_S3_ENDPOINT_URL") or None
        self.ATTACHMENT_S3_PREFIX = env.get("ATTACHMENT_S3_PREFIX", "")
        self.ATTACHMENT_ORPHAN_HOURS = float(env.get("ATTACHMENT_ORPHAN_HOURS", 24))
        self.ATTACHMENT_CLEANUP_SECONDS = float(env.get("ATTACHMENT_CLEANUP_SECONDS", 3600))
        self.ATTACHMENT_CLEANUP_BACKGROUND = _bool("ATTACHMENT_CLEANUP_BACKGROUND", True)
        # Satisfaction surveys (tickets/feedback.py, notify/survey.py)
        self.CSAT_DELAY_SECONDS = int(env.get("CSAT_DELAY_SECONDS", 3600))
        self.CSAT_LINK_MAX_AGE = int(env.get("CSAT_LINK_MAX_AGE", 14 * 86400))
        self.CSAT_FOLLOWUP_MAX_AGE = int(env.get("CSAT_FOLLOWUP_MAX_AGE", 86400))
        self.CSAT_RATE_LIMIT = env.get("CSAT_RATE_LIMIT", "30 per minute")

        # Outgoing webhooks
        self.WEBHOOK_TIMEOUT = float(env.get("WEBHOOK_TIMEOUT", 10))
        self.WEBHOOK_MAX_ATTEMPTS = int(env.get("WEBHOOK_MAX_ATTEMPTS", 8))
        self.WEBHOOK_RETRY_BASE_SECONDS = float(env.get("WEBHOOK_RETRY_BASE_SECONDS", 30))
        self.WEBHOOK_RETRY_MAX_SECONDS = float(env.get("WEBHOOK_RETRY_MAX_SECONDS", 3600))
        self.WEBHOOK_DISABLE_AFTER = int(env.get("WEBHOOK_DISABLE_AFTER", 10))
        self.WEBHOOK_ALLOW_PRIVATE = _bool("WEBHOOK_ALLOW_PRIVATE", False)
        self.WEBHOOK_POLL_SECONDS = float(env.get("WEBHOOK_POLL_SECONDS", 15))
        self.WEBHOOK_BACKGROUND = _bool("WEBHOOK_BACKGROUND", True)

        # Desk policy
        self.CONTACT_RATE_LIMIT = env.get("CONTACT_RATE_LIMIT", "5 per minute;20 per day")
        self.GAMIFICATION_DAILY_CAP = int(env.get("GAMIFICATION_DAILY_CAP", 3))
        self.AUTO_ASSIGN_POLICY = env.get("AUTO_ASSIGN_POLICY", "off")
        # How long a process keeps its copy of the SLA policies and calendars (a change
        # made in the process itself drops it at once).
        self.SLA_CACHE_SECONDS = float(env.get("SLA_CACHE_SECONDS", 30))
        self.AUTO_TAG_CACHE_SECONDS = float(env.get("AUTO_TAG_CACHE_SECONDS", 30))
        self.WEBHOOK_CACHE_SECONDS = float(env.get("WEBHOOK_CACHE_SECONDS", 30))
        # The SLA checks (support_app/scheduler.py): `embedded` in each server process,
        # `off` when `support worker` runs them; how often they look for due tickets.
        self.SLA_SCHEDULER = env.get("SLA_SCHEDULER", "embedded").strip().lower()
        self.SLA_CHECK_SECONDS = float(env.get("SLA_CHECK_SECONDS", 30))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.isupper()}


class TestConfig(Config):
    """Isolated database, no CSRF friction for API tests, deterministic limits."""

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        self.TESTING = True
        self.ENV_NAME = "test"
        self.SECRET_KEY = secrets.token_hex(16)
        self.JWT_SECRET_KEY = self.SECRET_KEY
        self.SQLALCHEMY_DATABASE_URI = database_url or os.environ.get(
            "TEST_DATABASE_URL", "sqlite://"
        )
        self.REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
        self.SOCKETIO_CHANNEL = f"support-test-{secrets.token_hex(6)}"  # workers never cross-talk
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.MAILGUN_SIGNING_KEY = "test-signing-key"
        self.MAIL_BACKGROUND = False  # tests call notify.outbox.deliver_due() themselves
        self.WEBHOOK_BACKGROUND = False  # likewise webhooks.delivery.deliver_due()
        self.SLA_SCHEDULER = "off"  # tests call tickets.sla_checks.check_due() themselves
        self.WEBHOOK_ALLOW_PRIVATE = True  # the tests' receivers listen on loopback
        self.ATTACHMENT_STORAGE_PATH = tempfile.mkdtemp(prefix="support-attachments-")
        self.ATTACHMENT_CLEANUP_BACKGROUND = False  # tests call attachments.cleanup themselves
        self.FAB_UPDATE_PERMS = False
