"""Settings for deals-csv, read from environment variables.

Every variable is documented, with its default, in README.md and .env.example.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)


def secret_key_from_env() -> str:
    """DJANGO_SECRET_KEY, or the contents of the file DJANGO_SECRET_KEY_FILE names (the
    container generates one there, so `docker-compose exec web manage.py ...` finds it too)."""
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    key_file = Path(os.environ.get("DJANGO_SECRET_KEY_FILE", "") or "/nonexistent")
    if not key and key_file.is_file():
        key = key_file.read_text(encoding="utf-8").strip()
    return key


SECRET_KEY = secret_key_from_env()
if not SECRET_KEY:
    if not DEBUG:
        # A guessable default key would let anyone forge sessions of the admin.
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105 - only reachable with DEBUG on

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# The admin's refused forms answer in the API's JSON shape, like its other errors.
CSRF_FAILURE_VIEW = "deals.api.http_errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_pgviews",
    "deals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside whitenoise and every other middleware: their bodiless errors answer JSON too.
    "deals.api.http_errors.JsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/deals"),
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Django's backend with a health check that pings only idle connections (project/postgresql).
DATABASES["default"]["ENGINE"] = "project.postgresql"
# A database that does not answer must not hang a request: fail fast and let the
# exception handler answer 503.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Uploads (deals/api/parsers.py): a multipart file streams to a temporary file, a text/csv
# body straight into COPY; either is refused with 413 as soon as it passes the limit.
DEALS_MAX_UPLOAD_MB = env_int("DEALS_MAX_UPLOAD_MB", 512)
# Under gunicorn, an upload's body that brings no bytes for this many seconds breaks off (400):
# a text/csv body is read while the upload holds its lock. 0: no bound. nginx's is also 20 s.
DEALS_BODY_READ_TIMEOUT = env_int("DEALS_BODY_READ_TIMEOUT", 20)
# Uploads replace all data: when set, POST /api/deals/ needs "Authorization: Token <value>".
DEALS_UPLOAD_TOKEN = os.environ.get("DEALS_UPLOAD_TOKEN", "")

# The analysts' read-only PostgreSQL role (manage.py ensure_analyst_role); no user, no role.
DEALS_ANALYST_USER = os.environ.get("DEALS_ANALYST_USER", "")
DEALS_ANALYST_PASSWORD = os.environ.get("DEALS_ANALYST_PASSWORD", "")
DEALS_ANALYST_STATEMENT_TIMEOUT = os.environ.get("DEALS_ANALYST_STATEMENT_TIMEOUT", "") or "30s"
DEALS_ANALYST_CONNECTION_LIMIT = env_int("DEALS_ANALYST_CONNECTION_LIMIT", 10)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["deals.api.renderers.ExactJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.MultiPartParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "deals.api.negotiation.JsonApiNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "deals.api.exception_handler.status_desc_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "deals-csv API",
    "DESCRIPTION": "Upload a deals CSV; read the top-5 customers and the gems they share.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Security headers; cookies and HSTS are switched on when served behind TLS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django_pgviews": {"level": "WARNING"},
        # Django writes a WARNING for every 4xx ("Bad Request: /api/deals/"): a refused upload is
        # already one line of deals.services, with its cause. Its 5xx are logged once, with their
        # id, by deals.failures.
        "django.request": {"level": "ERROR"},
    },
}
