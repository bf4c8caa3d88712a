"""Django-level error pages (the admin, anything outside DRF's views) answer JSON, and classify
their failures exactly as the API does."""

import io
import re
from http import HTTPStatus

import psycopg2
import pytest
from django.contrib.admin import sites
from django.test import Client

from deals.errors import DATABASE_UNAVAILABLE
from deals.services import deals_replace_from_csv

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


def test_admin_failure_is_logged_once_with_its_id(browser, monkeypatch, caplog):
    def broken(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(sites.AdminSite, "each_context", broken)

    response = browser.get("/admin/login/")

    incident = re.fullmatch(r"internal error \(id ([0-9a-f]{8})\)", response.json()["Desc"])[1]
    errors = [(record.name, record.getMessage()) for record in caplog.records]
    assert errors == [
        ("deals.failures", f"internal error {incident} in GET /admin/login/: RuntimeError: boom")
    ]


def test_admin_failure_with_debug_on_is_django_s_page_logged_once(settings, monkeypatch, caplog):
    # DEBUG on: Django's HTML debug page (the 500 handler is not called), logged by Django alone.
    settings.DEBUG = True

    def broken(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(sites.AdminSite, "each_context", broken)

    response = Client(raise_request_exception=False).get("/admin/login/")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response["Content-Type"] == "text/html; charset=utf-8"
    (record,) = caplog.records
    assert (record.name, record.getMessage()) == (
        "django.request",
        "Internal Server Error: /admin/login/",
    )
    assert record.exc_info[1].args == ("boom",)


def test_admin_form_without_csrf_is_a_json_403(browser, caplog):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/admin/login/", {"username": "admin", "password": "x"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "Status": "Error",
        "Desc": "CSRF verification failed: CSRF cookie not set",
    }


def test_admin_form_from_another_origin_is_a_json_403(browser, admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")  # the CSRF cookie
    token = browser.cookies["csrftoken"].value

    response = browser.post(
        "/admin/login/",
        {"username": "admin", "password": "x", "csrfmiddlewaretoken": token},
        headers={"origin": "https://evil.example"},
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {
        "Status": "Error",
        "Desc": "CSRF verification failed: Origin checking failed - https://evil.example does "
        "not match any trusted origins",
    }


def test_admin_logout_by_get_is_a_json_405(admin_client):
    response = admin_client.get("/admin/logout/")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST, OPTIONS"
    assert response.json() == {"Status": "Error", "Desc": 'Method "GET" not allowed.'}


def test_post_to_a_static_file_is_a_json_405(browser):
    response = browser.post("/static/deals/admin.css")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"Status": "Error", "Desc": 'Method "POST" not allowed.'}


@pytest.mark.parametrize("path", ["/api/deals/", "/admin/login/", "/nothing/"])
def test_a_host_not_served_says_so_without_naming_the_allowed_ones(browser, path):
    response = browser.get(path, headers={"host": "evil.example"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "Status": "Error",
        "Desc": "the host named in the Host header is not served here",
    }


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("deals/deal", {"item": "\x00"}),
        ("deals/deal", {"customer__regex": "("}),
        ("deals/deal", {"item__iregex": "[", "_facets": "1"}),
        ("deals/upload", {"status__exact": "\x00"}),
        ("deals/upload", {"filename__regex": "*"}),
        ("deals/customertotal", {"username__contains": "\x00"}),
        ("auth/user", {"username__regex": "("}),
    ],
)
def test_admin_filters_postgresql_refuses_show_the_list_again(admin_client, deals_csv, page, query):
    # With deals, so that the item filter has items and applies.
    deals_replace_from_csv(file=io.BytesIO(deals_csv), filename="deals.csv")

    response = admin_client.get(f"/admin/{page}/", query)

    # As Django answers an unknown lookup: back to the list, flagged (?e=1).
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == f"/admin/{page}/?e=1"
    assert admin_client.get(response["Location"]).status_code == HTTPStatus.OK
