"""The project's settings, plus what tests need: a secret and a test database name.

DEALS_TEST_DATABASE lets two test runs share one PostgreSQL server without clashing.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")

from project.settings import *  # noqa: F403
from project.settings import DATABASES

DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DEALS_TEST_DATABASE", "test_deals")}
# The same backend, with a test database whose default collation is not C (tests/postgresql).
DATABASES["default"]["ENGINE"] = "tests.postgresql"

# No collectstatic before tests: serve static files from the apps, without a manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
