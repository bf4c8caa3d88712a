"""Django-level error pages (the admin, anything outside DRF's views) answer JSON, and classify
their failures exactly as the API does."""

import re
from http import HTTPStatus

import psycopg2
import pytest
from django.contrib.admin import sites
from django.test import Client

from deals.errors import DATABASE_UNAVAILABLE

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(settings) -> Client:
    """A client that gets the answer a real server would give, not the raised exception."""
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_admin_failure_is_a_json_500_with_the_logged_id_and_no_upload_wording(
    browser, monkeypatch, caplog
):
    def broken(self, request):
        raise RuntimeError("boom")

    # Looked up at each request (the URLconf keeps the bound views it was built with).
    monkeypatch.setattr(sites.AdminSite, "each_context", broken)

    response = browser.get("/admin/login/")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response["Content-Type"] == "application/json"
    incident = re.fullmatch(r"internal error \(id ([0-9a-f]{8})\)", response.json()["Desc"])[1]
    assert response.json() == {"Status": "Error", "Desc": f"internal error (id {incident})"}
    (record,) = [record for record in caplog.records if record.name == "deals.failures"]
    assert (
        record.getMessage() == f"internal error {incident} in GET /admin/login/: RuntimeError: boom"
    )
    assert record.exc_info[1].args == ("boom",)


def test_admin_with_the_database_unreachable_is_a_json_503(browser, monkeypatch):
    def unreachable(self, request):
        raise psycopg2.OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(sites.AdminSite, "each_context", unreachable)

    response = browser.get("/admin/login/")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, response.content
    assert response.json() == {"Status": "Error", "Desc": DATABASE_UNAVAILABLE}
