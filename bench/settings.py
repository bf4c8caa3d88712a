"""The product's settings plus one URL: the constant view that sets the GET ceiling.

Benchmark only: gunicorn runs with DJANGO_SETTINGS_MODULE=bench.settings, so the product's
views are served exactly as in production, next to a view that does no work at all.
"""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
