"""The project's settings, plus what tests need: a secret and a test database name.

DEALS_TEST_DATABASE lets two test runs share one PostgreSQL server without clashing.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")

from project.settings import *  # noqa: F403
from project.settings import DATABASES


def held_test_database_name() -> str:
    """DEALS_TEST_DATABASE; with DEALS_TEST_DATABASE_SLOTS=N, one of N names `<name>_1` to
    `<name>_N` that no other running process holds.

    The mutation run (scripts/mutation.sh) runs several mutants at once, each in a fresh
    process: with a kept database each, a mutant that hangs inside an upload (holding
    TRUNCATE's lock until its test times out) cannot make the other mutant's tests wait and
    fail, which would count that mutant as killed. A slot is an exclusive lock on a file,
    released by the kernel when the process ends.
    """
    name = os.environ.get("DEALS_TEST_DATABASE", "test_deals")
    slots = int(os.environ.get("DEALS_TEST_DATABASE_SLOTS", "0"))
    if not slots:
        return name
    import fcntl  # POSIX only, like the mutation run

    for slot in range(1, slots + 1):
        holder = (Path(tempfile.gettempdir()) / f"{name}_{slot}.lock").open("w")
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder.close()
            continue
        _SLOT_HOLDERS.append(holder)  # kept open for the life of the process
        return f"{name}_{slot}"
    raise RuntimeError(f"all {slots} test database slots of {name} are held by other processes")


_SLOT_HOLDERS = []
DATABASES["default"]["TEST"] = {"NAME": held_test_database_name()}
# The same backend, with a test database whose default collation is not C (tests/postgresql).
DATABASES["default"]["ENGINE"] = "tests.postgresql"

# No collectstatic before tests: serve static files from the apps, without a manifest.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
