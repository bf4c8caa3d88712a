import time

import pytest
from django.db import connections

from deals.selectors import top_customers_report
from project.postgresql.base import HEALTH_CHECK_IDLE_SECONDS

pytestmark = pytest.mark.django_db

IDLE = HEALTH_CHECK_IDLE_SECONDS + 0.1


@pytest.fixture
def database():
    """The default connection itself (django.db.connection is a proxy that cannot be patched)."""
    wrapper = connections["default"]
    wrapper.ensure_connection()
    return wrapper


@pytest.fixture
def pings(database, monkeypatch):
    calls = []
    usable = database.is_usable
    monkeypatch.setattr(database, "health_check_enabled", True)
    monkeypatch.setattr(database, "is_usable", lambda: calls.append("ping") or usable())
    return calls


def request_starts(database, idle_for: float) -> None:
    # What Django's request_started signal does (the test client leaves it out).
    database.health_check_done = False
    database._last_used = time.monotonic() - idle_for


def test_a_connection_in_steady_use_is_not_pinged(database, pings):
    request_starts(database, idle_for=0)

    top_customers_report()

    assert pings == []


def test_an_idle_connection_is_pinged_before_use(database, pings):
    request_starts(database, idle_for=IDLE)

    top_customers_report()
    top_customers_report()

    assert pings == ["ping"]


def test_an_idle_connection_that_fails_the_ping_is_closed(database, monkeypatch):
    closed = []
    monkeypatch.setattr(database, "health_check_enabled", True)
    monkeypatch.setattr(database, "is_usable", lambda: False)
    monkeypatch.setattr(database, "close", lambda: closed.append(True))
    request_starts(database, idle_for=IDLE)

    database.close_if_health_check_failed()

    assert closed == [True]
