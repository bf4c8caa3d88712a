"""How an upload may arrive (deals/api/parsers.py): the multipart field `deals` as a file or a
text field, whatever its file name looks like, or the whole body as text/csv, chunked or not.
Every refusal is the project's own sentence, with the previous data intact; an attempt that
reached the service is in the upload history."""

import contextlib
import gzip
import hashlib
import http.client
import json
import socket
import threading
from http import HTTPStatus

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    InvalidHeader,
    LimitRequestHeaders,
    NoMoreData,
)
from gunicorn.http.unreader import SocketUnreader

from deals.api.parsers import BODY_LABEL, FIELD_LABEL
from deals.models import Deal, Upload
from project.wsgi import application
from tests.conftest import (
    URL,
    WsgiInput,
    csv_bytes,
    get_report,
    post_csv,
    wsgi_environ,
    wsgi_post,
)
from tests.test_faults import database_url, start_service  # noqa: F401 - the gunicorn fixture
from tests.transactional import (
    PATIENCE_SECONDS,
    advisory_locks,
    awaited_lock,
    copy_gate,
    generated_file,
    reports_emptied,
    wait_until,
)

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
        # Codecs that are no charset: a codec that refuses to decode leaves the name's bytes as
        # they came; lone surrogates become U+FFFD and NUL goes (PostgreSQL text holds neither).
        ("attachment; filename*=idna''x.csv", "x.csv"),
        ("attachment; filename*=undefined''x.csv", "x.csv"),
        ("attachment; filename*=punycode''%FF.csv", "\u00ff.csv"),
        ("attachment; filename*=unicode_escape''%5Cud800.csv", "\ufffd.csv"),
        ("attachment; filename*=raw_unicode_escape''%5Cudfff.csv", "\ufffd.csv"),
        ("attachment; filename*=utf-7''%2B2AA-.csv", "\ufffd.csv"),
        ("attachment; filename*=unicode_escape''a%5Cx00b.csv", "ab.csv"),
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
        (b"; filename*=idna''abc.csv", "abc.csv"),
        (b"; filename*=unicode_escape''%5Cud800.csv", "\ufffd.csv"),
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


@pytest.mark.parametrize("coding", ["chunked", "identity, chunked"])  # identity: no coding
@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_chunked_upload_is_read(api_client, deals_csv, expected_report, content_type, coding):
    body = deals_csv if content_type == "text/csv" else multipart(deals_part(b"", deals_csv))

    response = wsgi_post(
        WsgiInput(body), content_type, **{**CHUNKED, "HTTP_TRANSFER_ENCODING": coding}
    )

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


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain file", "gzipped file"])
@pytest.mark.parametrize("coding", ["gzip, chunked", "deflate,chunked", "GZip ,  Chunked"])
@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_transfer_coding_other_than_chunked_is_unsupported(
    api_client, previous, deals_csv, content_type, coding, gzipped
):
    # gunicorn de-chunks such a body and hands the other coding over undone: the bytes are not
    # the file as it is (a plain file under it would be a lie), so it is refused unread.
    content = gzip.compress(deals_csv, mtime=0) if gzipped else deals_csv
    body = WsgiInput(content if content_type == "text/csv" else multipart(deals_part(b"", content)))

    response = wsgi_post(body, content_type, **{**CHUNKED, "HTTP_TRANSFER_ENCODING": coding})

    assert_answer(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, encoded("Transfer-Encoding", coding))
    assert body.bytes_read == 0
    assert_intact(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]


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

    # A connection reset (OSError) after 1000 bytes.
    response = wsgi_post(WsgiInput(content, break_after=1000), content_type, length=len(content))

    desc = ended_early(1000, len(content))
    assert_answer(response, HTTPStatus.BAD_REQUEST, desc)
    assert_intact(api_client, previous)
    assert_recorded(BODY_LABEL if content_type == "text/csv" else FIELD_LABEL, desc)


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


# A body that breaks off: shorter than its Content-Length (the client closed its side early),
# a connection reset, or chunked framing the server cannot parse. Never loaded, whatever was
# read before; the attempt is recorded, for a multipart body too.

MULTIPART_LABEL = "(multipart body)"
NOT_CHUNKED = "the request body is not valid chunked coding (Transfer-Encoding: chunked)"


def ended_early(received: int, declared: int) -> str:
    return (
        f"the request body ended after {received} of the {declared} bytes its Content-Length "
        "declares (the client stopped sending)"
    )


def after_line(content: bytes, number: int) -> int:
    """The offset just after line `number`'s line break: a cut there leaves only whole lines."""
    offset = 0
    for _ in range(number):
        offset = content.index(b"\n", offset) + 1
    return offset


def assert_recorded(filename: str, desc: str) -> None:
    failed = Upload.objects.latest("pk")
    assert (failed.filename, failed.status, failed.error, failed.rows, failed.size) == (
        filename,
        "error",
        desc,
        None,
        None,
    )


NAMED_PART = b'; filename="deals.csv"'


def cut_bodies(deals_csv: bytes) -> dict:
    """(content type, body, where it stops, the label the history keeps)."""
    part_start = len(multipart(deals_part(NAMED_PART, b""))) - len(f"\r\n--{BOUNDARY}--\r\n")
    named = multipart(deals_part(NAMED_PART, deals_csv))
    return {
        "text/csv after a whole line": (
            "text/csv",
            deals_csv,
            after_line(deals_csv, 300),
            BODY_LABEL,
        ),
        "text/csv after the header": ("text/csv", deals_csv, after_line(deals_csv, 1), BODY_LABEL),
        "text/csv inside a date": ("text/csv", deals_csv, after_line(deals_csv, 9) - 5, BODY_LABEL),
        "multipart inside the deals part, after a whole line": (
            MULTIPART,
            named,
            part_start + after_line(deals_csv, 300),
            "deals.csv",
        ),
        "multipart after the deals part, before the closing boundary": (
            MULTIPART,
            named,
            len(named) - 4,
            "deals.csv",
        ),
        "multipart before the deals part": (MULTIPART, named, 20, MULTIPART_LABEL),
    }


@pytest.mark.parametrize(
    "case",
    [
        "text/csv after a whole line",
        "text/csv after the header",
        "text/csv inside a date",
        "multipart inside the deals part, after a whole line",
        "multipart after the deals part, before the closing boundary",
        "multipart before the deals part",
    ],
)
def test_body_shorter_than_its_content_length_is_refused_and_recorded(
    api_client, previous, deals_csv, case
):
    content_type, body, cut, label = cut_bodies(deals_csv)[case]

    response = wsgi_post(
        WsgiInput(body, break_after=cut, breaks_with=None), content_type, length=len(body)
    )

    desc = ended_early(cut, len(body))
    assert_answer(response, HTTPStatus.BAD_REQUEST, desc)
    assert_intact(api_client, previous)
    assert_recorded(label, desc)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(InvalidChunkSize(b"ZZ"), id="chunk size not hex"),
        pytest.param(ChunkMissingTerminator(b"XX"), id="chunk without its CRLF"),
        pytest.param(InvalidChunkExtension("invalid chunk extension"), id="bad chunk extension"),
        pytest.param(InvalidHeader("bare LF as line terminator"), id="trailer ends in bare LF"),
        pytest.param(LimitRequestHeaders("limit request trailer section size"), id="huge trailer"),
    ],
)
@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_malformed_chunked_framing_is_the_clients_fault(
    api_client, previous, deals_csv, content_type, error
):
    body = deals_csv if content_type == "text/csv" else multipart(deals_part(b"", deals_csv))

    response = wsgi_post(
        WsgiInput(body, break_after=5000, breaks_with=error), content_type, **CHUNKED
    )

    assert_answer(response, HTTPStatus.BAD_REQUEST, NOT_CHUNKED)
    assert_intact(api_client, previous)
    assert_recorded(BODY_LABEL if content_type == "text/csv" else FIELD_LABEL, NOT_CHUNKED)


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_chunked_body_that_stops_early_is_the_clients_fault(
    api_client, previous, deals_csv, content_type
):
    # gunicorn raises NoMoreData (an IOError) when the connection ends inside a chunk.
    body = deals_csv if content_type == "text/csv" else multipart(deals_part(b"", deals_csv))
    stops = WsgiInput(body, break_after=5000, breaks_with=NoMoreData(b""))

    response = wsgi_post(stops, content_type, **CHUNKED)

    desc = "the request body ended before it was complete"
    assert_answer(response, HTTPStatus.BAD_REQUEST, desc)
    assert_intact(api_client, previous)
    assert_recorded(BODY_LABEL if content_type == "text/csv" else FIELD_LABEL, desc)


def raw_exchange(port: int, request: bytes) -> tuple[int, dict]:
    """Send `request` as is, close our sending side (FIN, as a client that stops sending), and
    read the status and the JSON answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def raw_post(content_type: str, body: bytes, framing: str) -> bytes:
    head = f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{framing}"
    return (head + "Connection: close\r\n\r\n").encode() + body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_broken_bodies_through_a_real_gunicorn(
    start_service,  # noqa: F811
    api_client,
    deals_csv,
    expected_report,
):
    # The hostile report's requests, byte for byte: gunicorn hands the application a short
    # body as a normal end of stream, and raises its own parse errors for bad chunks.
    short = (
        b"customer,item,total,quantity,date\nalice,Ruby,100,1,2018-12-14 08:29:52\n"
        b"bob,Ruby,5,1,2018-12-14"
    )
    named = multipart(deals_part(NAMED_PART, deals_csv))
    cases = [
        (raw_post("text/csv", short, "Content-Length: 131\r\n"), ended_early(94, 131), BODY_LABEL),
        (
            raw_post(MULTIPART, named[:2000], f"Content-Length: {len(named)}\r\n"),
            ended_early(2000, len(named)),
            "deals.csv",
        ),
        (
            raw_post("text/csv", b"ZZ\r\nabc\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n"),
            NOT_CHUNKED,
            BODY_LABEL,
        ),
        (
            raw_post(MULTIPART, b"5\r\nabcdeXX\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n"),
            NOT_CHUNKED,
            MULTIPART_LABEL,
        ),
        (
            raw_post("text/csv", b"5;\x01\r\nabcde\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n"),
            NOT_CHUNKED,
            BODY_LABEL,
        ),
        (
            raw_post(
                "text/csv", b"5\r\nabcde\r\n0\r\nX: y\n\r\n", "Transfer-Encoding: chunked\r\n"
            ),
            NOT_CHUNKED,
            BODY_LABEL,
        ),
    ]
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    service = start_service(database_url())
    try:
        for request, desc, label in cases:
            answer = raw_exchange(service.port, request)
            assert answer == (HTTPStatus.BAD_REQUEST, {"Status": "Error", "Desc": desc}), (
                request[:200],
                service.output(),
            )
            assert json.loads(service.request("GET", URL).body) == expected_report
            assert_recorded(label, desc)
    finally:
        reports_emptied()


# A body that stops arriving, under gunicorn: the connection's socket waits at most
# DEALS_BODY_READ_TIMEOUT seconds for the next bytes. A text/csv body is read inside the
# upload's transaction, so without it a silent client would hold the upload lock at will.


def stopped_arriving(seconds: str) -> str:
    return (
        f"the request body stopped arriving: no bytes for {seconds} seconds "
        "(the client stopped sending)"
    )


def send_then_fall_silent(sock: socket.socket, data: bytes, done: threading.Event) -> None:
    """Send `data` (the other end may close first), then nothing until `done`, and close. The
    bound on the silence only keeps a broken test from hanging: the body then ends short."""
    with contextlib.suppress(OSError):
        sock.sendall(data)
    done.wait(PATIENCE_SECONDS)
    sock.close()


@pytest.mark.parametrize("content_type", ["text/csv", MULTIPART])
def test_body_that_stops_arriving_under_gunicorn_breaks_off(
    api_client, previous, settings, content_type
):
    settings.DEALS_BODY_READ_TIMEOUT = 0.2
    content = generated_file("slow", 10_000)  # 450 KB: 300 KB come, then nothing
    body = content if content_type == "text/csv" else multipart(deals_part(NAMED_PART, content))
    connection, client = socket.socketpair()
    # What gunicorn hands the application: the body, read from the connection as it is asked
    # for, and the connection itself.
    wsgi_input = Body(LengthReader(SocketUnreader(connection), len(body)))
    # The first 64 KB wait in the socket's buffer before the request starts: however late the
    # sender thread runs, the body breaks off after its header (and the deals part's).
    client.sendall(body[:65_536])
    done = threading.Event()
    rest = body[65_536:300_000]
    sender = threading.Thread(target=send_then_fall_silent, args=(client, rest, done))
    sender.start()
    try:
        response = wsgi_post(
            wsgi_input, content_type, length=len(body), **{"gunicorn.socket": connection}
        )
        timeout_after = connection.gettimeout()
    finally:
        done.set()
        sender.join()
        connection.close()

    desc = stopped_arriving("0.2")
    assert_answer(response, HTTPStatus.BAD_REQUEST, desc)
    assert timeout_after is None  # put back before the answer is written
    assert_intact(api_client, previous)
    assert_recorded(BODY_LABEL if content_type == "text/csv" else "deals.csv", desc)


def waiting_for_the_upload_lock() -> bool:
    """Whether a running upload's backend waits for the upload lock (an advisory lock)."""
    running = Upload.objects.filter(status=Upload.Status.RUNNING)
    pids = running.values_list("backend_pid", flat=True)
    return any((awaited_lock(pid) or ("",))[0] == "advisory" for pid in pids)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_stalled_csv_body_lets_the_next_upload_go_through_a_real_gunicorn(
    start_service,  # noqa: F811
    monkeypatch,
    deals_csv,
    expected_report,
):
    monkeypatch.setenv("DEALS_BODY_READ_TIMEOUT", "1")
    service = start_service(database_url())
    content = generated_file("slow", 10_000)
    head = (
        f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(content)}\r\n\r\n"
    )
    answers = []
    second = threading.Thread(target=lambda: answers.append(service.upload(deals_csv)))
    try:
        with copy_gate() as gate, socket.create_connection(("127.0.0.1", service.port)) as stalled:
            # The stalled upload takes the upload lock and stops at the gate inside COPY, its
            # body 300 KB short and never coming; the second one waits for the lock.
            stalled.sendall(head.encode() + content[:300_000])
            wait_until(advisory_locks, "the stalled upload holding the upload lock")
            second.start()
            wait_until(waiting_for_the_upload_lock, "the second upload waiting for the lock")
            gate.open()
            stalled.settimeout(60)
            status, answer = read_answer(stalled)
        second.join()

        desc = stopped_arriving("1")
        assert (status, answer) == (
            HTTPStatus.BAD_REQUEST,
            {"Status": "Error", "Desc": desc},
        ), service.output()
        (loaded,) = answers
        assert (loaded.status, loaded.json()["rows"]) == (HTTPStatus.OK, 767), service.output()
        assert json.loads(service.request("GET", URL).body) == expected_report
        failed, succeeded = Upload.objects.order_by("pk")
        assert (failed.filename, failed.status, failed.error) == (BODY_LABEL, "error", desc)
        assert (succeeded.filename, succeeded.status) == ("deals.csv", "ok")
    finally:
        reports_emptied()


def read_answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON answer on `sock`, read until the server closes the connection."""
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def chunked(body: bytes) -> bytes:
    """`body` in chunked framing: one chunk, then the last."""
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_transfer_codings_through_a_real_gunicorn(
    start_service,  # noqa: F811
    api_client,
    deals_csv,
    expected_report,
):
    # gunicorn de-chunks a gzip or deflate transfer coding before chunked and passes the rest
    # on undone, with HTTP_TRANSFER_ENCODING as sent (two header lines joined by a comma).
    cases = [
        ("text/csv", deals_csv, "Transfer-Encoding: gzip, chunked\r\n", "gzip, chunked"),
        (
            "text/csv",
            gzip.compress(deals_csv, mtime=0),
            "Transfer-Encoding: gzip, chunked\r\n",
            "gzip, chunked",
        ),
        (
            MULTIPART,
            multipart(deals_part(NAMED_PART, deals_csv)),
            "Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n",
            "deflate,chunked",
        ),
    ]
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    uploads = Upload.objects.count()
    service = start_service(database_url())
    try:
        for content_type, body, framing, coding in cases:
            answer = raw_exchange(service.port, raw_post(content_type, chunked(body), framing))
            desc = encoded("Transfer-Encoding", coding)
            assert answer == (
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                {"Status": "Error", "Desc": desc},
            ), (framing, service.output())
        assert json.loads(service.request("GET", URL).body) == expected_report
        assert Upload.objects.count() == uploads
    finally:
        reports_emptied()


# What the body is: a Content-Type names one format, not a range; the file's bytes come as
# they are (no content coding) and in UTF-8. Refused before the service reads a byte: nothing
# is recorded.


def unsupported(what: str) -> str:
    return f"the body is {what}, not an upload; {HOW_TO_UPLOAD}"


AS_IT_IS = {
    "Content-Encoding": "without Content-Encoding",
    "Content-Transfer-Encoding": "without Content-Transfer-Encoding",
    "Transfer-Encoding": "with a Content-Length or Transfer-Encoding: chunked alone",
}


def encoded(header: str, coding: str, what: str = "the body") -> str:
    return f"{what} is encoded ({header}: {coding}); send the file as it is, {AS_IT_IS[header]}"


def not_utf8(charset: str, what: str = "the body") -> str:
    return (
        f"{what} declares charset={charset}, but UTF-8 is the only encoding read; save the file "
        "as UTF-8 and send it with charset=utf-8 or no charset"
    )


def malformed(content_type: str, what: str = "the body") -> str:
    return (
        f"{what}'s Content-Type is malformed ({content_type}); send it as text/csv, with "
        "charset=utf-8 or no charset"
    )


def part_typed(content_type: bytes) -> bytes:
    """A multipart body whose `deals` part (the bad file) has this Content-Type."""
    return multipart(deals_part(b"\r\nContent-Type: " + content_type, BAD_FILE))


@pytest.mark.parametrize(
    ("content_type", "headers", "body", "desc"),
    [
        pytest.param("*/*", {}, BAD_FILE, unsupported("*/*"), id="*/*"),
        pytest.param("text/*", {}, BAD_FILE, unsupported("text/*"), id="text/*"),
        pytest.param("multipart/*", {}, BAD_FILE, unsupported("multipart/*"), id="multipart/*"),
        pytest.param("text/csvx", {}, BAD_FILE, unsupported("text/csvx"), id="text/csvx"),
        pytest.param(
            "text/csv",
            {"content_encoding": "gzip"},
            gzip.compress(BAD_FILE, mtime=0),
            encoded("Content-Encoding", "gzip"),
            id="gzip",
        ),
        pytest.param(
            "text/csv",
            {"content_encoding": "br"},
            BAD_FILE,
            encoded("Content-Encoding", "br"),
            id="br, the body plain",
        ),
        pytest.param(
            "text/csv",
            {"content_encoding": "identity, gzip"},
            BAD_FILE,
            encoded("Content-Encoding", "identity, gzip"),
            id="identity, gzip",
        ),
        pytest.param(
            MULTIPART,
            {"content_encoding": "deflate"},
            multipart(deals_part(b"", BAD_FILE)),
            encoded("Content-Encoding", "deflate"),
            id="multipart, deflate",
        ),
        pytest.param(
            "text/csv",
            {"transfer_encoding": "gzip, chunked"},
            gzip.compress(BAD_FILE, mtime=0),
            encoded("Transfer-Encoding", "gzip, chunked"),
            id="Transfer-Encoding: gzip, chunked",
        ),
        pytest.param(
            "text/csv; charset=latin-1", {}, BAD_FILE, not_utf8("latin-1"), id="charset=latin-1"
        ),
        pytest.param(
            'text/csv; charset="windows-1251"',
            {},
            BAD_FILE,
            not_utf8("windows-1251"),
            id="charset=windows-1251, quoted",
        ),
        # The charset in every spelling a parser might read: it must name UTF-8.
        pytest.param(
            "text/csv; charset*=UTF-8''latin1",
            {},
            BAD_FILE,
            not_utf8("latin1"),
            id="charset*=UTF-8''latin1 (RFC 2231)",
        ),
        pytest.param(
            "text/csv; charset*0*=utf-8''lat; charset*1=in%31",
            {},
            BAD_FILE,
            not_utf8("latin%31"),
            id="RFC 2231 continued, the second part not percent-encoded",
        ),
        pytest.param(
            "text/csv; charset*=iso-8859-1''%FF",
            {},
            BAD_FILE,
            not_utf8("\u00ff"),
            id="RFC 2231, a byte beyond ASCII",
        ),
        pytest.param(
            "text/csv; charset=utf-8; charset=latin1",
            {},
            BAD_FILE,
            not_utf8("latin1"),
            id="charset twice, the second latin1",
        ),
        pytest.param(
            "text/csv; charset=latin1; charset=utf-8",
            {},
            BAD_FILE,
            not_utf8("latin1"),
            id="charset twice, the first latin1",
        ),
        pytest.param('text/csv; charset=""', {}, BAD_FILE, not_utf8('""'), id='charset=""'),
        # Parameters that cannot be parsed declare an unknown charset.
        pytest.param(
            'text/csv; charset="latin1',
            {},
            BAD_FILE,
            malformed('text/csv; charset="latin1'),
            id="unterminated quote",
        ),
        pytest.param(
            "text/csv; charset=utf-8\xff",
            {},
            BAD_FILE,
            malformed("text/csv; charset=utf-8\xff"),
            id="a byte that no token holds",
        ),
        pytest.param(
            'text/csv; charset="utf-8"x',
            {},
            BAD_FILE,
            malformed('text/csv; charset="utf-8"x'),
            id="text after the quotes",
        ),
        pytest.param(
            "text/csv; charset", {}, BAD_FILE, malformed("text/csv; charset"), id="no value"
        ),
        pytest.param(
            "text/csv; charset*=latin1",
            {},
            BAD_FILE,
            malformed("text/csv; charset*=latin1"),
            id="RFC 2231 without its charset and language",
        ),
        pytest.param(
            "text/csv; charset*0=utf-8; charset*0=latin1",
            {},
            BAD_FILE,
            malformed("text/csv; charset*0=utf-8; charset*0=latin1"),
            id="RFC 2231, the same part twice",
        ),
        pytest.param(
            MULTIPART,
            {},
            part_typed(b"text/csv; charset=utf-16"),
            not_utf8("utf-16", "the deals part"),
            id="a part in utf-16",
        ),
        pytest.param(
            MULTIPART,
            {},
            part_typed(b"text/csv; charset*=UTF-8''latin1"),
            not_utf8("latin1", "the deals part"),
            id="a part in latin1, RFC 2231",
        ),
        pytest.param(
            MULTIPART,
            {},
            part_typed(b'text/csv; charset="latin1'),
            malformed('text/csv; charset="latin1', "the deals part"),
            id="a part's unterminated quote",
        ),
        pytest.param(
            MULTIPART,
            {},
            part_typed(b"text/csv; charset=utf-8\xff"),
            malformed("text/csv; charset=utf-8\xff", "the deals part"),
            id="a part's byte that no token holds",
        ),
        pytest.param(
            MULTIPART,
            {},
            multipart(deals_part(b"\r\nContent-Transfer-Encoding: base64", BAD_FILE)),
            encoded("Content-Transfer-Encoding", "base64", "the deals part"),
            id="a part in base64",
        ),
    ],
)
def test_body_not_plain_utf8_csv_is_unsupported(
    api_client, previous, content_type, headers, body, desc
):
    response = post_body(api_client, body, content_type, **headers)

    assert_answer(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, desc)
    assert_intact(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]


@pytest.mark.parametrize(
    ("content_type", "headers"),
    [
        ("text/csv; charset=UTF-8", {}),
        ('Text/CSV; charset="utf8"', {}),
        ("text/csv; header=present; charset = utf-8", {}),  # blanks around `=` read leniently
        ("text/csv;", {}),
        ("text/csv; charset*=UTF-8''utf-8", {}),
        ("text/csv; charset*=''%55TF-8", {}),
        ("text/csv; charset*0=utf; charset*1*=-%38", {}),
        ("text/csv", {"content_encoding": "identity"}),
        (MULTIPART, {"content_encoding": "Identity"}),
    ],
)
def test_plain_utf8_csv_is_read(api_client, deals_csv, expected_report, content_type, headers):
    if content_type == MULTIPART:
        body, label = (
            multipart(deals_part(b"\r\nContent-Type: text/csv; charset=utf-8", deals_csv)),
            FIELD_LABEL,
        )
    else:
        body, label = deals_csv, BODY_LABEL

    response = post_body(api_client, body, content_type, **headers)

    assert_uploaded(response, api_client, expected_report, label, deals_csv)


@pytest.mark.parametrize(
    "part_type",
    [
        b"text/csv; charset=UTF-8",
        b'text/csv; charset="utf8"',
        b"text/csv; charset*=utf-8''utf-8",
        b"application/vnd.ms-excel",  # what some browsers name a .csv file
    ],
)
def test_deals_part_in_utf8_is_read(api_client, deals_csv, expected_report, part_type):
    body = multipart(deals_part(b"\r\nContent-Type: " + part_type, deals_csv))

    response = post_multipart(api_client, body)

    assert_uploaded(response, api_client, expected_report, FIELD_LABEL, deals_csv)


# Content-Type parameters Django cannot read while it builds the request, before any view: the
# application gunicorn runs (project.wsgi) answers them all the same.


def served(environ: dict) -> tuple[int, dict]:
    """Status and JSON body of project.wsgi.application's answer, called as gunicorn calls it,
    without the connection closing around requests (as Django's test client does), which
    would end the test's transaction."""
    answer = {}

    def start_response(status: str, headers: list) -> None:
        answer["status"] = int(status.split()[0])

    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        body = b"".join(result)
        result.close()
    finally:
        for signal in signals:
            signal.connect(close_old_connections)
    return answer["status"], json.loads(body)


@pytest.mark.parametrize(
    ("content_type", "desc"),
    [
        pytest.param(
            "text/csv; charset*=x-unknown''%FF",
            not_utf8("\u00ff"),
            id="RFC 2231 in an unknown charset (Django: ValueError)",
        ),
        pytest.param(
            "text/csv; charset*=utf-8''utf-8; charset*0=latin1",
            malformed("text/csv; charset*=utf-8''utf-8; charset*0=latin1"),
            id="charset*= beside charset*0= (the email package: TypeError)",
        ),
    ],
)
def test_content_type_django_cannot_read_is_answered(api_client, previous, content_type, desc):
    status, answer = served(wsgi_environ(WsgiInput(BAD_FILE), content_type, length=len(BAD_FILE)))

    assert (status, answer) == (
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        {"Status": "Error", "Desc": desc},
    )
    assert_intact(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]


def test_report_is_served_whatever_content_type_a_get_names(previous):
    environ = wsgi_environ(WsgiInput(b""), "text/plain; charset*=x-unknown''a", length=0)

    assert served({**environ, "REQUEST_METHOD": "GET"}) == (HTTPStatus.OK, previous["report"])


def test_request_without_a_body_or_a_content_type_is_refused(api_client, previous):
    response = api_client.generic("POST", URL, content_type=None)  # curl -X POST

    assert_answer(response, HTTPStatus.BAD_REQUEST, f"the request has no body; {HOW_TO_UPLOAD}")
    assert_intact(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]


def test_body_without_a_content_type_is_unsupported(api_client, previous):
    response = wsgi_post(WsgiInput(BAD_FILE), "", length=len(BAD_FILE))

    assert_answer(
        response,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"the body has no Content-Type, not an upload; {HOW_TO_UPLOAD}",
    )
    assert_intact(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]
