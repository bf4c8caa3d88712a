"""How an upload may arrive (deals/api/parsers.py): the multipart field `deals` as a file or a
text field, whatever its file name looks like, or the whole body as text/csv, chunked or not.
Every refusal is the project's own sentence, with the previous data intact; an attempt that
reached the service is in the upload history."""

import hashlib
import http.client
import json
from http import HTTPStatus

import pytest

from deals.api.parsers import BODY_LABEL, FIELD_LABEL
from deals.models import Deal, Upload
from tests.conftest import URL, WsgiInput, csv_bytes, get_report, post_csv, wsgi_post
from tests.test_faults import database_url, start_service  # noqa: F401 - the gunicorn fixture
from tests.transactional import reports_emptied

pytestmark = pytest.mark.django_db

HEADER = "customer,item,total,quantity,date"
HOW_TO_UPLOAD = (
    "send the file as the multipart field 'deals' (curl -F deals=@deals.csv) "
    "or as a text/csv body (curl --data-binary @deals.csv -H 'Content-Type: text/csv')"
)
MALFORMED = f"the multipart body is malformed; {HOW_TO_UPLOAD}"
BAD_TOTAL = "line 2: total 'abc' is not a non-negative number with at most 2 decimals"
BAD_FILE = csv_bytes(HEADER, "bob,Ruby,abc,1,2018-12-14 08:29:52")
BOUNDARY = "parsers-boundary"


@pytest.fixture
def previous(api_client, deals_csv, expected_report) -> dict:
    """The canonical data is loaded: what every refused upload must leave as it was."""
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    return {"report": expected_report, "uploads": Upload.objects.count()}


def assert_answer(response, status: HTTPStatus, desc: str) -> None:
    assert response.status_code == status
    assert json.loads(response.content) == {"Status": "Error", "Desc": desc}


def assert_intact(api_client, previous: dict) -> None:
    assert get_report(api_client).json() == previous["report"]
    assert Deal.objects.count() == 767


def assert_uploaded(response, api_client, expected_report, filename: str, content: bytes):
    upload = Upload.objects.latest("pk")
    assert json.loads(response.content) == {"Status": "OK", "upload_id": upload.pk, "rows": 767}
    assert get_report(api_client).json() == expected_report
    assert (upload.filename, upload.size) == (filename, len(content))
    assert upload.sha256 == hashlib.sha256(content).hexdigest()


def post_body(api_client, body: bytes, content_type: str, **headers):
    return api_client.generic("POST", URL, body, content_type=content_type, headers=headers)


def multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    """A multipart body of raw parts (each: header lines, blank line, content)."""
    return b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + boundary.encode() + b"--\r\n"
    )


def deals_part(disposition: bytes, content: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="deals"' + disposition + b"\r\n\r\n" + content


def post_multipart(api_client, body: bytes):
    return post_body(api_client, body, f"multipart/form-data; boundary={BOUNDARY}")


# The raw text/csv body: streamed into the same validated COPY.


def test_csv_body_is_uploaded(api_client, deals_csv, expected_report):
    response = post_body(api_client, deals_csv, "text/csv")

    assert_uploaded(response, api_client, expected_report, BODY_LABEL, deals_csv)


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        ('attachment; filename="deals.csv"', "deals.csv"),
        ("attachment; filename*=UTF-8''%D1%81%D0%B4%D0%B5%D0%BB%D0%BA%D0%B8.csv", "сделки.csv"),
        ('attachment; filename="C:\\\\exports\\\\deals.csv"', "deals.csv"),
    ],
)
def test_csv_body_is_named_by_its_content_disposition(
    api_client, deals_csv, expected_report, disposition, filename
):
    response = post_body(
        api_client, deals_csv, "text/csv; charset=utf-8", content_disposition=disposition
    )

    assert_uploaded(response, api_client, expected_report, filename, deals_csv)


def test_bad_csv_body_is_refused_and_recorded_whole(api_client, previous):
    content = BAD_FILE + csv_bytes("ann,Ruby,1,1,2018-12-14 08:29:52") * 50_000  # > one chunk

    response = post_body(api_client, content, "text/csv")

    assert_answer(response, HTTPStatus.BAD_REQUEST, BAD_TOTAL)
    assert_intact(api_client, previous)
    failed = Upload.objects.latest("pk")
    assert (failed.filename, failed.status, failed.error) == (BODY_LABEL, "error", BAD_TOTAL)
    # The rest of the body was read only to measure it: size and digest of the whole body.
    assert (failed.size, failed.sha256) == (len(content), hashlib.sha256(content).hexdigest())


def test_empty_csv_body_is_an_empty_file(api_client, previous):
    response = post_body(api_client, b"", "text/csv")

    assert_answer(response, HTTPStatus.BAD_REQUEST, "the file is empty")
    assert_intact(api_client, previous)
    assert Upload.objects.latest("pk").error == "the file is empty"


# Multipart: the `deals` part is read whatever its file name looks like; the name is a label.


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        (b'; filename="deals.csv"', "deals.csv"),
        (b'; filename="\xd1\x81\xd0\xb4\xd0\xb5\xd0\xbb\xd0\xba\xd0\xb8.csv"', "сделки.csv"),
        (b'; filename="d\xe9als.csv"', "déals.csv"),  # latin-1 bytes, not UTF-8
        (b'; filename="\xff\xfe.csv"', "ÿþ.csv"),
        (b"; filename*=UTF-8''%D1%84.csv", "ф.csv"),
        (b"; filename*=utf-8'ru'%D1%84.csv", "ф.csv"),
        (b"; filename*=x-unknown''%D1%84.csv", "ф.csv"),  # unknown charset: read as UTF-8
        (b"; filename*=UTF-8''%FF.csv", "\ufffd.csv"),
        (b"; filename=\"a.csv\"; filename*=UTF-8''%D1%84.csv", "a.csv"),
        (b'; filename="../../etc/passwd"', "passwd"),
        (b'; filename="a\x00b\x7f\tc.csv"', "abc.csv"),  # PostgreSQL text cannot hold NUL
        (b'; filename=""', FIELD_LABEL),  # a browser's form with no file chosen
        (b"", FIELD_LABEL),  # curl -F 'deals=<deals.csv': a text field
    ],
)
def test_deals_part_is_read_whatever_its_name(
    api_client, deals_csv, expected_report, disposition, filename
):
    response = post_multipart(api_client, multipart(deals_part(disposition, deals_csv)))

    assert_uploaded(response, api_client, expected_report, filename, deals_csv)


def test_deals_part_among_other_parts(api_client, deals_csv, expected_report):
    body = multipart(
        b'Content-Disposition: form-data; name="note"\r\n\r\nhello',
        b'Content-Disposition: form-data; name="other"; filename="x.bin"\r\n\r\n\x00\xff',
        deals_part(b'; filename="deals.csv"\r\nContent-Type: text/csv', deals_csv),
        b'Content-Disposition: form-data; name="after"\r\n\r\nbye',
    )

    response = post_multipart(api_client, body)

    assert_uploaded(response, api_client, expected_report, "deals.csv", deals_csv)


def test_bad_file_in_a_text_field_is_refused_and_recorded(api_client, previous):
    response = post_multipart(api_client, multipart(deals_part(b"", BAD_FILE)))

    assert_answer(response, HTTPStatus.BAD_REQUEST, BAD_TOTAL)
    assert_intact(api_client, previous)
    failed = Upload.objects.latest("pk")
    assert (failed.filename, failed.error, failed.size) == (FIELD_LABEL, BAD_TOTAL, len(BAD_FILE))


@pytest.mark.parametrize(
    ("body", "desc"),
    [
        pytest.param(
            multipart(deals_part(b"", BAD_FILE))[: -len(f"--{BOUNDARY}--\r\n")],
            MALFORMED,
            id="no closing boundary",
        ),
        pytest.param(b"customer,item\r\n" * 100, MALFORMED, id="no boundary in the body"),
        pytest.param(
            multipart(b"Content-Type: text/csv\r\n\r\n" + BAD_FILE),
            MALFORMED,
            id="part without Content-Disposition",
        ),
        pytest.param(
            multipart(deals_part(b'; filename="' + b"x" * 5000 + b'"', BAD_FILE)),
            MALFORMED,
            id="a part header over 4 KB",
        ),
        pytest.param(
            multipart(*[b'Content-Disposition: form-data; name="f"\r\n\r\nx'] * 1001),
            "the form has more than 1000 parts; send only the field 'deals'",
            id="1001 parts",
        ),
        pytest.param(
            multipart(*[b'Content-Disposition: form-data; name="f"; filename="f"\r\n\r\nx'] * 1001),
            "the form has more than 1000 parts; send only the field 'deals'",
            id="1001 files",
        ),
        pytest.param(
            multipart(deals_part(b'; filename="a.csv"', BAD_FILE), deals_part(b"", BAD_FILE)),
            "send exactly one file in the multipart field 'deals'",
            id="a file and a text field both named deals",
        ),
    ],
)
def test_malformed_multipart_is_refused_in_our_words(api_client, previous, body, desc):
    response = post_multipart(api_client, body)

    assert_answer(response, HTTPStatus.BAD_REQUEST, desc)
    assert_intact(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]  # the service never got a file


# Bodies of unknown length (Transfer-Encoding: chunked), and bodies that stop short: sent
# straight to the WSGI handler, as a server would.


# What gunicorn passes for a chunked request: the body de-chunked, no Content-Length.
CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_chunked_upload_is_read(api_client, deals_csv, expected_report, content_type):
    body = deals_csv if content_type == "text/csv" else multipart(deals_part(b"", deals_csv))

    response = wsgi_post(WsgiInput(body), content_type, **CHUNKED)

    label = BODY_LABEL if content_type == "text/csv" else FIELD_LABEL
    assert_uploaded(response, api_client, expected_report, label, deals_csv)


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_chunked_upload_over_the_limit_stops_at_the_limit(
    api_client, previous, settings, content_type
):
    settings.DEALS_MAX_UPLOAD_MB = 1
    content = csv_bytes(HEADER, *["ann,Ruby,1,1,2018-12-14 08:29:52"] * 70_000)  # 2.3 MB
    body = WsgiInput(content if content_type == "text/csv" else multipart(deals_part(b"", content)))

    response = wsgi_post(body, content_type, **CHUNKED)

    assert_answer(
        response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the upload is larger than the limit of 1 MB"
    )
    assert_intact(api_client, previous)
    assert body.bytes_read <= (1 << 20) + (1 << 16)  # not a chunk past the limit
    if content_type == "text/csv":  # the service had started reading it: recorded
        failed = Upload.objects.latest("pk")
        assert (failed.status, failed.error, failed.size) == (
            "error",
            "the upload is larger than the limit of 1 MB",
            None,
        )


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_chunked_upload_on_a_server_that_does_not_dechunk_needs_a_length(
    api_client, previous, deals_csv, content_type
):
    response = wsgi_post(WsgiInput(deals_csv), content_type, HTTP_TRANSFER_ENCODING="chunked")

    assert_answer(
        response,
        HTTPStatus.LENGTH_REQUIRED,
        "this server cannot read a chunked body: send a Content-Length header "
        "(curl -F and --data-binary @file do)",
    )
    assert_intact(api_client, previous)


def test_chunked_json_is_unsupported(api_client, previous):
    response = wsgi_post(WsgiInput(b'{"deals": "x"}'), "application/json", **CHUNKED)

    assert_answer(
        response,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"the body is application/json, not an upload; {HOW_TO_UPLOAD}",
    )
    assert_intact(api_client, previous)


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_csv_body_over_the_limit_is_refused_before_it_is_read(
    api_client, previous, settings, deals_csv, content_type
):
    settings.DEALS_MAX_UPLOAD_MB = 1
    body = WsgiInput(deals_csv)

    response = wsgi_post(body, content_type, length=(1 << 20) + 1)

    assert_answer(
        response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the upload is larger than the limit of 1 MB"
    )
    assert body.bytes_read == 0
    assert_intact(api_client, previous)


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_body_cut_off_is_the_clients_fault(api_client, previous, deals_csv, content_type):
    content = deals_csv if content_type == "text/csv" else multipart(deals_part(b"", deals_csv))

    response = wsgi_post(WsgiInput(content, break_after=1000), content_type, length=len(content))

    assert_answer(response, HTTPStatus.BAD_REQUEST, "the request body ended before it was complete")
    assert_intact(api_client, previous)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_chunked_uploads_through_a_real_gunicorn(start_service, deals_csv, expected_report):  # noqa: F811
    # gunicorn de-chunks the body and sets wsgi.input_terminated: both routes read it.
    service = start_service(database_url())
    bodies = {
        "text/csv": deals_csv,
        MULTIPART: multipart(deals_part(b'; filename="deals.csv"', deals_csv)),
    }
    try:
        for content_type, body in bodies.items():
            client = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
            pieces = (body[start : start + 10_000] for start in range(0, len(body), 10_000))
            headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
            client.request("POST", URL, body=pieces, headers=headers, encode_chunked=True)
            response = client.getresponse()
            answer = json.loads(response.read())
            client.close()
            assert (response.status, answer["rows"]) == (HTTPStatus.OK, 767), service.output()
        assert json.loads(service.request("GET", URL).body) == expected_report
        assert list(Upload.objects.order_by("pk").values_list("filename", "size")) == [
            (BODY_LABEL, len(deals_csv)),
            ("deals.csv", len(deals_csv)),
        ]
    finally:
        reports_emptied()
