"""Security promises: deploy checks, a locked admin, the upload token, no SQL injection, no 5xx."""

import json
import os
import secrets
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from deals.api.permissions import AUTH_MALFORMED, AUTH_REQUIRED, AUTH_WRONG
from deals.models import Deal, Upload
from tests.conftest import URL, csv_bytes, examples, get_report, post_csv

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-upload-token"
HEADER = "customer,item,total,quantity,date"


@pytest.fixture
def previous_report(api_client, deals_csv, expected_report) -> dict:
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    return expected_report


@pytest.fixture
def upload_token(settings) -> str:
    settings.DEALS_UPLOAD_TOKEN = TOKEN
    return TOKEN


def test_check_deploy_is_clean_with_production_settings():
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "deals.example.com",
        "DJANGO_SECURE_COOKIES": "1",
        "DJANGO_SECURE_HSTS_SECONDS": "31536000",
        "DJANGO_SECURE_HSTS_PRELOAD": "1",
        "DJANGO_SECURE_SSL_REDIRECT": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_api_answers_carry_nosniff_and_deny_framing(api_client):
    response = get_report(api_client)
    assert response.status_code == HTTPStatus.OK
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/admin/", "/admin/deals/upload/", "/admin/deals/deal/"])
def test_admin_requires_login(client, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.FOUND
    assert response.headers["Location"] == f"/admin/login/?next={path}"


def test_admin_refuses_a_wrong_password(client, django_user_model):
    django_user_model.objects.create_superuser("boss", password="right-password")
    assert not client.login(username="boss", password="wrong-password")
    assert client.get("/admin/").status_code == HTTPStatus.FOUND


def test_uploads_are_open_when_no_token_is_set(api_client, previous_report, settings):
    settings.DEALS_UPLOAD_TOKEN = ""
    api_client.credentials(HTTP_AUTHORIZATION="Token anything")
    response = post_csv(api_client, csv_bytes(HEADER, "ann,Ruby,5,1,2018-12-14 08:29:52"))
    assert response.status_code == HTTPStatus.OK
    assert get_report(api_client).json() == {
        "response": [{"username": "ann", "spent_money": 5, "gems": []}]
    }


@pytest.mark.parametrize(
    ("authorization", "desc"),
    [
        (None, AUTH_REQUIRED),
        ("Bearer " + TOKEN, AUTH_REQUIRED),
        ("Token", AUTH_MALFORMED),
        ("Token a b", AUTH_MALFORMED),
        ("Token " + TOKEN[:-1], AUTH_WRONG),
        ("Token " + TOKEN + "x", AUTH_WRONG),
        ("Token " + TOKEN.upper(), AUTH_WRONG),
    ],
)
def test_upload_without_the_token_is_refused(
    api_client, previous_report, upload_token, authorization, desc
):
    if authorization is not None:
        api_client.credentials(HTTP_AUTHORIZATION=authorization)
    response = post_csv(api_client, csv_bytes(HEADER))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"Status": "Error", "Desc": desc}
    assert response.headers["WWW-Authenticate"] == "Token"
    assert Deal.objects.count() == 767
    assert get_report(api_client).json() == previous_report


@pytest.mark.parametrize("keyword", ["Token", "token", "TOKEN"])
def test_upload_with_the_token_is_accepted(api_client, previous_report, upload_token, keyword):
    api_client.credentials(HTTP_AUTHORIZATION=f"{keyword} {upload_token}")
    response = post_csv(api_client, csv_bytes(HEADER))
    assert response.status_code == HTTPStatus.OK
    upload = Upload.objects.latest("pk")
    assert response.json() == {"Status": "OK", "upload_id": upload.pk, "rows": 0}
    assert get_report(api_client).json() == {"response": []}


@pytest.mark.parametrize("authorization", [None, "Token wrong", "Token a b", "Basic Zm9vOmJhcg=="])
def test_reads_stay_open_when_a_token_is_set(
    api_client, previous_report, upload_token, authorization
):
    if authorization is not None:
        api_client.credentials(HTTP_AUTHORIZATION=authorization)
    response = get_report(api_client)
    assert response.status_code == HTTPStatus.OK
    assert response.json() == previous_report
    assert api_client.get("/api/health/").json() == {"status": "ok"}


SQL_LOOKING_NAMES = [
    "Robert'); DROP TABLE deals_deal;--",
    "x' OR '1'='1",
    '"; SELECT pg_sleep(30); --',
    "1; TRUNCATE deals_upload",
    "$$; DELETE FROM deals_deal; $$",
    "%s %(name)s {} {0}",
    "E'\\x41' \\N \\. \\\\",
    "COPY deals_deal TO PROGRAM 'id'",
]


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def test_sql_looking_names_come_back_verbatim(api_client):
    lines = [
        f"{_quoted(name)},{_quoted(gem)},{100 - number},1,2018-12-14 08:29:52"
        for number, name in enumerate(SQL_LOOKING_NAMES)
        for gem in (SQL_LOOKING_NAMES[0], SQL_LOOKING_NAMES[-1])
    ]
    filename = "x'); DROP TABLE deals_upload;--.csv"
    response = post_csv(api_client, csv_bytes(HEADER, *lines), name=filename)
    assert response.status_code == HTTPStatus.OK
    assert Upload.objects.get(pk=response.json()["upload_id"]).filename == filename
    shared = sorted([SQL_LOOKING_NAMES[0], SQL_LOOKING_NAMES[-1]])
    assert get_report(api_client).json() == {
        "response": [
            {"username": name, "spent_money": 2 * (100 - number), "gems": shared}
            for number, name in enumerate(SQL_LOOKING_NAMES[:5])
        ]
    }
    assert Deal.objects.count() == 2 * len(SQL_LOOKING_NAMES)
    assert set(Deal.objects.values_list("customer", flat=True)) == set(SQL_LOOKING_NAMES)


# A hypothesis-driven client in place of schemathesis: every operation of the OpenAPI schema,
# plus unknown paths and methods, with hostile bodies. Whatever arrives: no 5xx, errors in the
# JSON shape, and for a documented operation only the status codes the schema documents.
UNDOCUMENTED_PATHS = [
    "/",
    "/api/deals",
    "/api/nothing/",
    "/api/deals/1/",
    "/api/schema/",
    "/api/docs/",
]
# Documents, not the JSON API: they answer (errors too) in YAML and HTML; only "no 5xx" holds.
DOCUMENT_PATHS = {"/api/schema/", "/api/docs/"}
METHODS = ["get", "post", "put", "patch", "delete", "options", "head"]
CONTENT_TYPES = [
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "application/json",
    "application/x-www-form-urlencoded",
    "text/csv",
    "text/plain; charset=latin-1",
    "",
]
CSV_LIKE = st.lists(
    st.sampled_from([HEADER, "ann,Ruby,5,1,2018-12-14 08:29:52", "a,b", '"', "\\.", "", "\x00"]),
    max_size=4,
).map(lambda lines: "\n".join(lines).encode())
BODIES = st.one_of(st.binary(max_size=300), CSV_LIKE)


@pytest.fixture(scope="module")
def documented() -> dict[tuple[str, str], set[int]]:
    """(path, method) of each operation in the schema -> the status codes it documents."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return {
        (path, method): {int(status) for status in operation["responses"]}
        for path, operations in paths.items()
        for method, operation in operations.items()
    }


def _assert_no_5xx_and_json(path: str, method: str, response) -> None:
    assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR, response.content
    if response.status_code == HTTPStatus.MOVED_PERMANENTLY:  # APPEND_SLASH: /api/deals
        assert response.headers["Location"] == path + "/"
        return
    if method == "head" or response.status_code == HTTPStatus.NOT_MODIFIED:
        return
    if path in DOCUMENT_PATHS:
        return
    # The report is sent as stored, with its charset; the other answers are rendered by DRF.
    media_type = response.headers["Content-Type"].removesuffix("; charset=utf-8")
    assert media_type == "application/json", (path, response.content)
    body = json.loads(response.content)
    if response.status_code >= HTTPStatus.BAD_REQUEST:
        assert set(body) == {"Status", "Desc"}
        assert body["Status"] == "Error"


@settings(max_examples=examples(200))  # the profile of tests/conftest.py, more examples
@given(data=st.data(), content_type=st.sampled_from(CONTENT_TYPES), body=BODIES)
def test_raw_requests_answer_as_documented_and_never_5xx(documented, data, content_type, body):
    undocumented = st.tuples(st.sampled_from(UNDOCUMENTED_PATHS), st.sampled_from(METHODS))
    path, method = data.draw(st.sampled_from(sorted(documented)) | undocumented)
    response = APIClient().generic(method.upper(), path, data=body, content_type=content_type)
    _assert_no_5xx_and_json(path, method, response)
    if (path, method) in documented:
        assert response.status_code in documented[path, method]


BOUNDARY = "fuzz-boundary"
PART_NAMES = st.sampled_from(["deals", "Deals", "deals[]", "file", "", 'de"als', "deals\x00"])


def multipart_part(name: str, filename: str | None, content: bytes) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
    return head + content + b"\r\n"


@settings(max_examples=examples(150))
@given(
    parts=st.lists(
        st.tuples(PART_NAMES, st.none() | st.text(max_size=20), BODIES),
        max_size=3,
    ),
    ending=st.sampled_from([f"--{BOUNDARY}--\r\n", "", f"--{BOUNDARY}"]),
)
def test_multipart_uploads_never_answer_5xx_or_html(documented, parts, ending):
    body = b"".join(multipart_part(*part) for part in parts) + ending.encode()
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    response = APIClient().generic("POST", URL, data=body, content_type=content_type)
    _assert_no_5xx_and_json(URL, "post", response)
    assert response.status_code in documented[URL, "post"]
