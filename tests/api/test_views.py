import logging
import random
import re
import string
from contextlib import contextmanager
from http import HTTPStatus

import psycopg2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from deals.api import views
from deals.models import Deal, TopCustomer, Upload
from tests.conftest import EXAMPLES, URL, csv_bytes, get_report, post_csv

pytestmark = pytest.mark.django_db

HEADER = "customer,item,total,quantity,date"
NOT_DATE = "is not an ISO 8601 date like 2018-12-14 or 2018-12-14 08:29:52.506166"
WHEN = "2018-12-14 08:29:52"


@pytest.fixture
def loaded(api_client, deals_csv, expected_report):
    """The canonical file, uploaded: what every failed upload must leave intact."""
    response = post_csv(api_client, deals_csv)
    assert response.status_code == HTTPStatus.OK
    return expected_report


def assert_intact(api_client, expected_report):
    assert get_report(api_client).json() == expected_report
    assert Deal.objects.count() == 767


def assert_refused(response, status: HTTPStatus, desc: str, api_client, expected_report):
    """The whole error answer, and the previous data untouched."""
    assert response.status_code == status
    assert response.json() == {"Status": "Error", "Desc": desc}
    assert_intact(api_client, expected_report)


def test_upload_canonical_file(api_client, deals_csv):
    response = post_csv(api_client, deals_csv)

    upload = Upload.objects.get()
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"Status": "OK", "upload_id": upload.pk, "rows": 767}


def test_report_of_canonical_file(api_client, loaded):
    response = get_report(api_client)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == loaded


def test_report_body_is_the_canonical_bytes(api_client, loaded):
    body = get_report(api_client).content

    assert body == (EXAMPLES / "deals.expected.json").read_bytes().rstrip(b"\n")


def test_report_without_data(api_client):
    response = get_report(api_client)

    assert response.status_code == HTTPStatus.OK
    assert response.content == b'{"response": []}'


def test_upload_replaces_previous_data(api_client, loaded):
    second = csv_bytes(HEADER, "anna,Опал,10.75,1,2020-01-01 00:00:00")

    post_csv(api_client, second)

    assert get_report(api_client).json() == {
        "response": [{"username": "anna", "spent_money": 10.75, "gems": []}]
    }
    assert Deal.objects.count() == 1


def test_same_file_twice_does_not_double(api_client, deals_csv, loaded):
    post_csv(api_client, deals_csv)

    assert_intact(api_client, loaded)


def test_header_only_file_empties_the_report(api_client, loaded):
    response = post_csv(api_client, csv_bytes(HEADER))

    assert response.json()["rows"] == 0
    assert get_report(api_client).json() == {"response": []}


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda data: data.replace(b"\r\n", b"\n"), id="lf"),
        pytest.param(lambda data: b"\xef\xbb\xbf" + data, id="bom-crlf"),
        pytest.param(lambda data: b"\xef\xbb\xbf" + data.replace(b"\r\n", b"\n"), id="bom-lf"),
        pytest.param(lambda data: data.rstrip(b"\r\n"), id="no-final-newline"),
    ],
)
def test_canonical_file_variants(api_client, deals_csv, expected_report, variant):
    response = post_csv(api_client, variant(deals_csv))

    assert response.status_code == HTTPStatus.OK
    assert get_report(api_client).json() == expected_report


# Files from the field (issue 10): what real exporters write is read as it obviously means.


def pad_every_other(data: bytes, column: int, before: bytes, after: bytes) -> bytes:
    """The file with blanks around one column's value on every other line (not the header)."""
    lines = data.split(b"\r\n")
    for number in range(1, len(lines) - 1, 2):
        fields = lines[number].split(b",")
        fields[column] = before + fields[column] + after
        lines[number] = b",".join(fields)
    return b"\r\n".join(lines)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda data: data + b"\r\n", id="an empty line at the end (Excel)"),
        pytest.param(lambda data: data + b"\r\n\r\n \t\r\n", id="blank lines at the end"),
        pytest.param(lambda data: b"sep=,\r\n" + data, id="Excel sep=, first line"),
        pytest.param(
            lambda data: b"\xef\xbb\xbfsep=,\r\n" + data + b"\r\n",
            id="BOM, sep=, and an empty line",
        ),
        pytest.param(
            lambda data: data.replace(
                b"customer,item,total,quantity,date", b"Customer, Item, Total, Quantity, Date"
            ),
            id="header names capitalized with spaces",
        ),
        pytest.param(
            lambda data: data.replace(
                b"customer,item,total,quantity,date", b"CUSTOMER,\tItem\t,TOTAL,quantity,DaTe"
            ),
            id="header names in any case with tabs",
        ),
        pytest.param(
            lambda data: pad_every_other(data, 0, b"", b" "), id="customer with a trailing space"
        ),
        pytest.param(
            lambda data: pad_every_other(data, 0, b"\t ", b""), id="customer with leading blanks"
        ),
        pytest.param(
            lambda data: pad_every_other(data, 1, b" ", b"  "), id="item with spaces around"
        ),
        pytest.param(
            lambda data: pad_every_other(pad_every_other(data, 0, b'"  ', b'"'), 1, b'"', b' "'),
            id="quoted values with spaces inside the quotes",
        ),
        pytest.param(lambda data: data + b",,,,\r\n,,,,\r\n", id="Excel's empty rows at the end"),
        pytest.param(
            lambda data: data + b"\r\n,,,,\r\n , ,,,", id="empty lines and rows at the end"
        ),
        pytest.param(
            lambda data: pad_every_other(
                pad_every_other(data, 2, b"0000000000", b""), 3, b"0", b""
            ),
            id="leading zeros in totals and quantities",
        ),
    ],
)
def test_field_variants_give_the_canonical_report(api_client, deals_csv, expected_report, variant):
    content = variant(deals_csv)
    assert content != deals_csv

    response = post_csv(api_client, content)

    upload = Upload.objects.get()
    assert response.json() == {"Status": "OK", "upload_id": upload.pk, "rows": 767}
    assert get_report(api_client).json() == expected_report
    assert (upload.status, upload.size) == (Upload.Status.OK, len(content))


def test_blanks_never_split_a_customer_or_hide_a_shared_gem(api_client):
    content = csv_bytes(
        HEADER,
        "bob,Ruby,10,1,2018-12-14 08:29:52",
        "bob ,Opal,10,1,2018-12-14 08:29:52",
        "\tann,Ruby ,5,1,2018-12-14 08:29:52",
        '" ann",Opal,5,1,2018-12-14 08:29:52',
    )

    post_csv(api_client, content)

    assert get_report(api_client).json() == {
        "response": [
            {"username": "bob", "spent_money": 20, "gems": ["Opal", "Ruby"]},
            {"username": "ann", "spent_money": 10, "gems": ["Opal", "Ruby"]},
        ]
    }
    assert sorted(Deal.objects.values_list("customer", "item")) == [
        ("ann", "Opal"),
        ("ann", "Ruby"),
        ("bob", "Opal"),
        ("bob", "Ruby"),
    ]


def test_empty_lines_after_a_lone_header_empty_the_data(api_client, loaded):
    response = post_csv(api_client, csv_bytes(HEADER, "", "", ""))

    assert response.json()["rows"] == 0
    assert get_report(api_client).json() == {"response": []}


def test_a_date_without_a_time_is_midnight_utc(api_client):
    content = csv_bytes(
        "date,customer,item,total,quantity", "2018-12-14,bob,Ruby,1,1", "0001-01-01,ann,Opal,1,1"
    )

    post_csv(api_client, content)

    dates = dict(Deal.objects.values_list("customer", "date"))
    assert (str(dates["bob"]), str(dates["ann"])) == (
        "2018-12-14 00:00:00+00:00",
        "0001-01-01 00:00:00+00:00",
    )


def test_permuted_and_quoted_columns(api_client, deals_csv, expected_report):
    lines = deals_csv.decode().split("\r\n")[:-1]
    rows = [line.split(",") for line in lines]
    # date,total,customer,quantity,item with every text value quoted
    order = [4, 2, 0, 3, 1]
    permuted = [",".join(f'"{row[i]}"' if i in (0, 1) else row[i] for i in order) for row in rows]

    response = post_csv(api_client, csv_bytes(*permuted))

    assert response.status_code == HTTPStatus.OK
    assert get_report(api_client).json() == expected_report


def test_quoted_values_keep_commas_and_quotes(api_client):
    content = csv_bytes(
        HEADER,
        '"Smith, John","Ruby ""Star""",100,1,2018-12-14T08:29:52Z',
        '"Smith, John",Опал,0.5,2,2018-12-14 08:29:52+03:00',
        'bob,"Ruby ""Star""",1,1,2018-12-14 08:29:52.5-0100',
    )

    post_csv(api_client, content)

    assert get_report(api_client).json() == {
        "response": [
            {"username": "Smith, John", "spent_money": 100.5, "gems": ['Ruby "Star"']},
            {"username": "bob", "spent_money": 1, "gems": ['Ruby "Star"']},
        ]
    }


def test_etag_and_not_modified(api_client, loaded):
    first = get_report(api_client)

    again = api_client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first["Cache-Control"] == "no-cache"
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_etag_changes_with_the_report(api_client, loaded):
    before = get_report(api_client)["ETag"]
    post_csv(api_client, csv_bytes(HEADER, "anna,Опал,1,1,2020-01-01 00:00:00"))

    response = api_client.get(URL, HTTP_IF_NONE_MATCH=before)

    assert response.status_code == HTTPStatus.OK
    assert response["ETag"] != before


# A report, and a change of one served field at a time: each must change the ETag.
BASE_DEALS = [f"anna,Opal,300,1,{WHEN}", f"bob,Opal,200,1,{WHEN}", f"carl,Ruby,100,1,{WHEN}"]
BASE_REPORT = [
    {"username": "anna", "spent_money": 300, "gems": ["Opal"]},
    {"username": "bob", "spent_money": 200, "gems": ["Opal"]},
    {"username": "carl", "spent_money": 100, "gems": []},
]
ONE_FIELD_CHANGED = {
    "amount only, by a cent": (
        [f"anna,Opal,300.01,1,{WHEN}", *BASE_DEALS[1:]],
        [{**BASE_REPORT[0], "spent_money": 300.01}, *BASE_REPORT[1:]],
    ),
    "gems only": (
        [*BASE_DEALS, f"carl,Opal,0,1,{WHEN}"],
        [*BASE_REPORT[:2], {**BASE_REPORT[2], "gems": ["Opal"]}],
    ),
    "order only": (
        [f"anna,Opal,200,1,{WHEN}", f"bob,Opal,300,1,{WHEN}", BASE_DEALS[2]],
        [
            {**BASE_REPORT[1], "spent_money": 300},
            {**BASE_REPORT[0], "spent_money": 200},
            *BASE_REPORT[2:],
        ],
    ),
}


def etag_of(api_client, rows: list[str], report: list[dict]) -> str:
    assert post_csv(api_client, csv_bytes(HEADER, *rows)).status_code == HTTPStatus.OK
    response = get_report(api_client)
    assert response.json() == {"response": report}
    return response["ETag"]


@pytest.mark.parametrize(("rows", "report"), ONE_FIELD_CHANGED.values(), ids=ONE_FIELD_CHANGED)
def test_etag_changes_when_one_served_field_changes(api_client, rows, report):
    before = etag_of(api_client, BASE_DEALS, BASE_REPORT)
    assert post_csv(api_client, csv_bytes(HEADER, *rows)).status_code == HTTPStatus.OK

    response = api_client.get(URL, HTTP_IF_NONE_MATCH=before)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"response": report}
    assert response["ETag"] != before


def test_etag_is_the_same_for_the_same_report_from_other_deals(api_client):
    before = etag_of(api_client, BASE_DEALS, BASE_REPORT)
    other_deals = [
        f"carl,Ruby,100.00,3,{WHEN}",
        f"anna,Opal,150,1,{WHEN}",
        "bob,Opal,200.0,2,2020-01-01T00:00:00Z",
        f"anna,Opal,150.00,1,{WHEN}",
    ]

    assert etag_of(api_client, other_deals, BASE_REPORT) == before
    response = api_client.get(URL, HTTP_IF_NONE_MATCH=before)
    assert (response.status_code, response.content) == (HTTPStatus.NOT_MODIFIED, b"")


def test_etag_is_a_strong_quoted_tag(api_client, loaded):
    etag = get_report(api_client)["ETag"]

    assert etag.startswith('"') and etag.endswith('"') and '"' not in etag[1:-1]
    assert len(etag) > 2


def report_requests(api_client) -> dict:
    """Every way to ask for the report, each with the status it must answer."""
    etag = get_report(api_client)["ETag"]
    return {
        "plain GET": (api_client.get(URL), HTTPStatus.OK),
        "HEAD": (api_client.head(URL), HTTPStatus.OK),
        "stale tag": (api_client.get(URL, HTTP_IF_NONE_MATCH='"stale"'), HTTPStatus.OK),
        "same tag": (api_client.get(URL, HTTP_IF_NONE_MATCH=etag), HTTPStatus.NOT_MODIFIED),
        "weak tag": (
            api_client.get(URL, HTTP_IF_NONE_MATCH=f"W/{etag}"),
            HTTPStatus.NOT_MODIFIED,
        ),
        "star": (api_client.get(URL, HTTP_IF_NONE_MATCH="*"), HTTPStatus.NOT_MODIFIED),
    }


@pytest.mark.parametrize("data", ["none", "loaded"])
def test_every_report_answer_carries_cache_control_and_the_etag(api_client, deals_csv, data):
    if data == "loaded":
        assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    etag = get_report(api_client)["ETag"]

    answers = report_requests(api_client)

    assert {
        name: (response.status_code, response["Cache-Control"], response["ETag"])
        for name, (response, _) in answers.items()
    } == {name: (status, "no-cache", etag) for name, (_, status) in answers.items()}


@contextmanager
def database_lost():
    """Every query of this connection fails as when the server has gone away."""

    def lost(execute, sql, params, many, context):
        with connection.wrap_database_errors:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(lost):
        yield


UNAVAILABLE = {"Status": "Error", "Desc": "the database is unavailable; try again later"}


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(lambda client: client.get(URL), id="report"),
        pytest.param(lambda client: client.get(URL, HTTP_IF_NONE_MATCH="*"), id="revalidation"),
        pytest.param(lambda client: client.get("/api/health/"), id="health"),
        pytest.param(lambda client: post_csv(client, csv_bytes(HEADER)), id="upload"),
    ],
)
def test_database_lost_answers_503(api_client, loaded, request_):
    uploads = Upload.objects.count()

    with database_lost():
        response = request_(api_client)

    assert (response.status_code, response["Content-Type"]) == (
        HTTPStatus.SERVICE_UNAVAILABLE,
        "application/json",
    )
    assert response.json() == UNAVAILABLE
    assert_intact(api_client, loaded)
    assert Upload.objects.count() == uploads  # nothing could be recorded either


@pytest.mark.parametrize("tag", ["*", "W/{etag}", '"other", {etag}'])
def test_not_modified_by_weak_list_and_star(api_client, loaded, tag):
    etag = get_report(api_client)["ETag"]

    response = api_client.get(URL, HTTP_IF_NONE_MATCH=tag.format(etag=etag))

    assert response.status_code == HTTPStatus.NOT_MODIFIED


def test_report_is_one_query(api_client, loaded, django_assert_num_queries):
    with django_assert_num_queries(1):
        get_report(api_client)


BAD_UPLOADS = [
    (b"", "the file is empty"),
    (b"\xef\xbb\xbf", "line 1: the header is missing"),
    (
        csv_bytes("customer,item,total,quantity"),
        "line 1: header misses date (expected customer,item,total,quantity,date)",
    ),
    (
        csv_bytes("customer,item,total,quantity,date,note"),
        "line 1: header has unknown 'note' (expected customer,item,total,quantity,date)",
    ),
    (
        csv_bytes("customer,item,total,quantity,date,date"),
        "line 1: header repeats date (expected customer,item,total,quantity,date)",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,abc,1,2018-12-14 08:29:52"),
        "line 2: total 'abc' is not a non-negative number with at most 2 decimals",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,2018-12-14 08:29:52", "bob,Ruby,1,1"),
        "line 3: expected 5 fields, found 4",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,2018-12-14 08:29:52,x"),
        "line 2: expected 5 fields, found 6",
    ),
    (
        csv_bytes(HEADER, '"bob,Ruby,1,1,2018-12-14 08:29:52'),
        "line 2: customer: unterminated quoted value (line breaks inside values are not supported)",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,0,2018-12-14 08:29:52"),
        "line 2: quantity '0' is not a positive integer",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,tomorrow"),
        f"line 2: date 'tomorrow' {NOT_DATE}",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,2018-02-30 08:29:52"),
        "line 2: date '2018-02-30 08:29:52' is not a valid date and time",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,2018-12-14 08:29:52", "\\."),
        "line 3: expected 5 fields, found 1",
    ),
    (
        b"customer,item,total,quantity,date\r\nb\xffb,Ruby,1,1,2018-12-14 08:29:52\r\n",
        "line 2: not UTF-8 text (byte 0xff); save the file as UTF-8 CSV",
    ),
    (
        b"customer,item,total,quantity,date\r\nb\x00b,Ruby,1,1,2018-12-14 08:29:52\r\n",
        "line 2: contains a NUL byte",
    ),
    *[
        (
            csv_bytes(HEADER, f"bob,Ruby,{total},1,2018-12-14 08:29:52"),
            f"line 2: total {total!r} is not a non-negative number with at most 2 decimals",
        )
        for total in ("NaN", "infinity", " 12 ", "+5", "-1", "1.123", "1e3")
    ],
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,2018-12-14 08:29:52", "bob,Ruby,1,1,epoch"),
        f"line 3: date 'epoch' {NOT_DATE}",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,99999999999,2018-12-14 08:29:52"),
        "line 2: quantity '99999999999' is out of range (at most 2147483647)",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,2147483648,2018-12-14 08:29:52"),
        "line 2: quantity '2147483648' is out of range (at most 2147483647)",
    ),
    (csv_bytes(HEADER, " ,Ruby,1,1,2018-12-14 08:29:52"), "line 2: customer ' ' is empty"),
    (
        csv_bytes(HEADER) + b"bob,Ruby,1,1,2018-12-14 08:29:52\n",
        "line 2: ends with LF but the header with CRLF (mixed line endings)",
    ),
    (
        csv_bytes(HEADER, "bob,Ruby,1,1,2018-12-14 08:29:52", "", "bob,Ruby,1,1,2018-12-14"),
        "line 3: empty line",
    ),
]

UNTERMINATED = "unterminated quoted value (line breaks inside values are not supported)"
STRAY_QUOTE = 'a quote inside an unquoted value (quote the whole value and double the ")'
NOT_TOTAL = "is not a non-negative number with at most 2 decimals"
CR_INSIDE = (
    "a carriage return (CR) inside the line;"
    " save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"
)
# How the RFC 4180 splitter explains a bad line, and what the value rules refuse.
BAD_QUOTING = [
    # "" inside a quoted value is one quote: the line is explained past it, and a value
    # holding one is shown unescaped.
    (csv_bytes(HEADER, f'"Smith ""J""",Ruby,abc,1,{WHEN}'), f"line 2: total 'abc' {NOT_TOTAL}"),
    (csv_bytes(HEADER, f'bob,Ruby,"1""5",1,{WHEN}'), f"line 2: total '1\"5' {NOT_TOTAL}"),
    (csv_bytes(HEADER, f'"a""b,Ruby,1,1,{WHEN}'), f"line 2: customer: {UNTERMINATED}"),
    (csv_bytes(HEADER, f"bob,Ruby,1,1,{WHEN},"), "line 2: expected 5 fields, found 6"),
    (csv_bytes(HEADER, f",Ruby,1,1,{WHEN}"), "line 2: customer '' is empty"),
    (csv_bytes(HEADER, f'bob,Ru"by,1,1,{WHEN}'), f"line 2: item: {STRAY_QUOTE}"),
    # A lone quote inside a quoted value ends it early.
    (csv_bytes(HEADER, f'"a"b",Ruby,1,1,{WHEN}'), "line 2: customer: text after the closing quote"),
    (csv_bytes(HEADER, f'bob,"Ru"by",1,1,{WHEN}'), "line 2: item: text after the closing quote"),
    # Line breaks inside a quoted value, in files of either kind.
    (csv_bytes(HEADER, f'"bo\rb",Ruby,1,1,{WHEN}'), f"line 2: {CR_INSIDE}"),
    (
        csv_bytes(HEADER, f'"bo\rb",Ruby,1,1,{WHEN}', newline="\n"),
        f"line 2: {CR_INSIDE}",
    ),
    (
        csv_bytes(HEADER, f'"bo\nb",Ruby,1,1,{WHEN}', newline="\n"),
        f"line 2: customer: {UNTERMINATED}",
    ),
    (csv_bytes(HEADER, f'"bo\r\nb",Ruby,1,1,{WHEN}'), f"line 2: customer: {UNTERMINATED}"),
    (
        csv_bytes(HEADER, f'"bo\nb",Ruby,1,1,{WHEN}'),
        "line 2: ends with LF but the header with CRLF (mixed line endings)",
    ),
    # Names made of blanks only, bare or quoted.
    (csv_bytes(HEADER, f"\t,Ruby,1,1,{WHEN}"), "line 2: customer '\\t' is empty"),
    (csv_bytes(HEADER, f'" ",Ruby,1,1,{WHEN}'), "line 2: customer ' ' is empty"),
    (csv_bytes(HEADER, f'"\t",Ruby,1,1,{WHEN}'), "line 2: customer '\\t' is empty"),
    (csv_bytes(HEADER, f'bob," \t ",1,1,{WHEN}'), "line 2: item ' \\t ' is empty"),
    (csv_bytes(HEADER, f'"",Ruby,1,1,{WHEN}'), "line 2: customer '' is empty"),
    # The header has no column names yet: its fields are numbered.
    (csv_bytes('customer,"item,total,quantity,date'), f"line 1: field 2: {UNTERMINATED}"),
    (csv_bytes('cust"omer,item,total,quantity,date'), f"line 1: field 1: {STRAY_QUOTE}"),
    (
        csv_bytes('customer,item,"total"x,quantity,date'),
        "line 1: field 3: text after the closing quote",
    ),
    (
        csv_bytes('customer,item,total,quantity,date,"x'),
        f"line 1: field 6: {UNTERMINATED}",
    ),
]


@pytest.mark.parametrize(("content", "desc"), BAD_UPLOADS + BAD_QUOTING)
def test_bad_upload_changes_nothing(api_client, loaded, content, desc):
    response = post_csv(api_client, content)

    assert_refused(response, HTTPStatus.BAD_REQUEST, desc, api_client, loaded)
    failed = Upload.objects.order_by("-id").first()
    assert (failed.status, failed.error, failed.size) == (Upload.Status.ERROR, desc, len(content))


def test_a_refused_upload_is_logged_once_with_its_cause(api_client, loaded, caplog):
    caplog.set_level(logging.INFO)
    bad = csv_bytes("customer,item,total,quantity,date", "bob,Ruby,abc,1,2018-12-14 08:29:52")

    post_csv(api_client, bad)

    desc = "line 2: total 'abc' is not a non-negative number with at most 2 decimals"
    (record,) = caplog.records
    assert (record.name, record.levelname) == ("deals.services", "WARNING")
    assert record.getMessage().endswith(f"error={desc}")


def test_no_deals_field(api_client, loaded):
    response = api_client.post(URL, {"other": SimpleUploadedFile("a.csv", b"x")})

    assert_refused(
        response,
        HTTPStatus.BAD_REQUEST,
        "deals: no file in the multipart field 'deals'",
        api_client,
        loaded,
    )


def test_deals_field_twice(api_client, loaded, deals_csv):
    files = [SimpleUploadedFile("a.csv", deals_csv), SimpleUploadedFile("b.csv", deals_csv)]

    response = api_client.post(URL, {"deals": files})

    assert_refused(
        response,
        HTTPStatus.BAD_REQUEST,
        "send exactly one file in the multipart field 'deals'",
        api_client,
        loaded,
    )


def test_json_body_is_unsupported_and_says_how_to_upload(api_client, loaded):
    response = api_client.post(URL, {"deals": "x"}, format="json")

    assert_refused(
        response,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "the body is application/json, not an upload; send the file as the multipart field "
        "'deals' (curl -F deals=@deals.csv) or as a text/csv body "
        "(curl --data-binary @deals.csv -H 'Content-Type: text/csv')",
        api_client,
        loaded,
    )


def test_too_many_multipart_parts(api_client, loaded, deals_csv):
    fields = {f"extra{n}": "x" for n in range(1000)}
    fields["deals"] = SimpleUploadedFile("deals.csv", deals_csv)

    response = api_client.post(URL, fields, format="multipart")

    assert_refused(
        response,
        HTTPStatus.BAD_REQUEST,
        "the form has more than 1000 parts; send only the field 'deals'",
        api_client,
        loaded,
    )


def test_other_form_fields_are_skipped_unread(api_client, deals_csv, expected_report):
    fields = {f"extra{n}": "x" for n in range(998)}
    fields["note"] = "x" * (3 * 1024 * 1024)
    fields["deals"] = SimpleUploadedFile("d.csv", deals_csv)

    response = api_client.post(URL, fields, format="multipart")

    assert response.json() == {"Status": "OK", "upload_id": Upload.objects.get().pk, "rows": 767}
    assert get_report(api_client).json() == expected_report


def test_upload_over_the_limit(api_client, loaded, settings):
    settings.DEALS_MAX_UPLOAD_MB = 1
    content = csv_bytes(HEADER) + b"x" * (1024 * 1024 + 1)

    response = post_csv(api_client, content)

    assert_refused(
        response,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "the upload is larger than the limit of 1 MB",
        api_client,
        loaded,
    )


def test_unknown_api_path_is_json(api_client):
    response = api_client.get("/api/nothing/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"Status": "Error", "Desc": "no such resource: /api/nothing/"}


def test_method_not_allowed_is_json(api_client):
    response = api_client.delete(URL)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {"Status": "Error", "Desc": 'Method "DELETE" not allowed.'}


# The API answers JSON whatever a client asks for: `Accept` and a `format` parameter are not
# read (DRF would answer 406 or 404); OPTIONS describes the operations in public words.


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ({"format": "xml"}, None),
        ({"format": "api"}, None),
        ({}, "text/html"),
        ({}, "application/xml;q=1, */*;q=0"),
    ],
)
def test_report_is_json_whatever_is_asked(api_client, loaded, query, accept):
    headers = {"accept": accept} if accept else {}

    response = api_client.get(URL, query, headers=headers)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == loaded


def test_upload_is_read_whatever_its_query_says(api_client, deals_csv, expected_report):
    upload = SimpleUploadedFile("deals.csv", deals_csv)

    response = api_client.post(
        f"{URL}?format=csv", {"deals": upload}, format="multipart", headers={"accept": "text/csv"}
    )

    assert response.json() == {"Status": "OK", "upload_id": Upload.objects.get().pk, "rows": 767}
    assert get_report(api_client).json() == expected_report


def test_options_describes_the_deals_in_public_words(api_client):
    response = api_client.options(URL)

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "name": "Deals",
        "description": "GET: the top-5 customers by money spent and the gems they share. POST: "
        "replace all deals\nwith a CSV file (the multipart field `deals`, or a text/csv body).",
        "renders": ["application/json"],
        "parses": ["multipart/form-data", "text/csv"],
    }


def test_upload_and_report_without_trailing_slash(api_client, deals_csv, expected_report):
    upload = SimpleUploadedFile("deals.csv", deals_csv)

    posted = api_client.post("/api/deals", {"deals": upload}, format="multipart")

    assert posted.status_code == HTTPStatus.OK
    assert api_client.get("/api/deals").json() == expected_report


def test_options_names_the_health_check(api_client):
    response = api_client.options("/api/health/")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "name": "Health",
        "description": "",
        "renders": ["application/json"],
        "parses": ["multipart/form-data"],
    }


def test_health(api_client):
    response = api_client.get("/api/health/")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


# Failures that are not the file's: an internal error is a JSON 500 with an id that the log
# line (with the traceback) carries too; a database limit is never reported as an outage.


def incident_of(response) -> str:
    """The id of a JSON 500 `internal error (id ...)`, asserting the whole answer's shape."""
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    match = INCIDENT.fullmatch(response.json()["Desc"])
    assert match, response.json()
    return match[1]


INCIDENT = re.compile(r"internal error \(id ([0-9a-f]{8})\)(?:; the upload changed nothing)?")


def logged_incident(caplog) -> logging.LogRecord:
    (record,) = [record for record in caplog.records if record.name == "deals.failures"]
    return record


def test_unexpected_error_in_a_read_is_a_json_500_with_the_logged_id(
    api_client, monkeypatch, caplog
):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "top_customers_report", broken)

    response = get_report(api_client)

    incident = incident_of(response)
    assert response.json() == {"Status": "Error", "Desc": f"internal error (id {incident})"}
    record = logged_incident(caplog)
    assert (
        record.getMessage() == f"internal error {incident} in GET /api/deals/: RuntimeError: boom"
    )
    assert record.exc_info[1].args == ("boom",)


def test_unexpected_error_in_an_upload_changes_nothing_and_is_recorded(
    api_client, loaded, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(TopCustomer, "refresh", broken)

    response = post_csv(api_client, csv_bytes(HEADER, "anna,Опал,1,1,2020-01-01 00:00:00"))

    incident = incident_of(response)
    desc = f"internal error (id {incident}); the upload changed nothing"
    monkeypatch.undo()
    assert_refused(response, HTTPStatus.INTERNAL_SERVER_ERROR, desc, api_client, loaded)
    failed = Upload.objects.latest("pk")
    assert (failed.status, failed.error) == (Upload.Status.ERROR, desc)
    assert logged_incident(caplog).getMessage() == (
        f"internal error {incident} in upload {failed.pk}: RuntimeError: boom"
    )


@pytest.mark.parametrize("debug", [False, True])
def test_an_internal_error_is_logged_once_with_its_id(
    api_client, monkeypatch, caplog, settings, debug
):
    settings.DEBUG = debug

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "top_customers_report", broken)

    incident = incident_of(get_report(api_client))

    errors = [
        (record.name, record.getMessage())
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]
    assert errors == [
        ("deals.failures", f"internal error {incident} in GET /api/deals/: RuntimeError: boom")
    ]


def test_an_unreachable_database_is_logged_once_as_a_warning(api_client, monkeypatch, caplog):
    def unreachable():
        raise psycopg2.OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(views, "top_customers_report", unreachable)

    response = get_report(api_client)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert [(record.name, record.levelname) for record in caplog.records] == [
        ("deals.failures", "WARNING")
    ]


def random_letters(count: int) -> str:
    return "".join(random.Random(count).choices(string.ascii_letters, k=count))


@pytest.mark.parametrize(
    ("row", "desc"),
    [
        # The file: 2,800 letters broke the btree limit of the totals view (503).
        (
            f"{random_letters(2800)},Ruby,1,1,2018-12-14 08:29:52",
            "customer is longer than 256 characters",
        ),
        (f"{'я' * 257},Ruby,1,1,2018-12-14 08:29:52", "customer is longer than 256 characters"),
        (f'bob,"{"𝄞" * 257}",1,1,2018-12-14 08:29:52', "item is longer than 256 characters"),
    ],
    ids=["2800 letters", "257 two-byte letters", "257 four-byte characters, quoted"],
)
def test_text_longer_than_the_limit_is_refused(api_client, loaded, row, desc):
    content = csv_bytes(HEADER, "ann,Ruby,1,1,2018-12-14 08:29:52", row)

    response = post_csv(api_client, content)

    assert_refused(response, HTTPStatus.BAD_REQUEST, f"line 3: {desc}", api_client, loaded)
    failed = Upload.objects.latest("pk")
    assert (failed.status, failed.error) == (Upload.Status.ERROR, f"line 3: {desc}")


def test_longest_text_is_stored_and_reported(api_client):
    # 256 characters of 4 bytes each, in both indexed columns: 2 KiB of key, under btree's limit.
    customer, item = "𝄞" * 256, "😀" * 256
    content = csv_bytes(
        HEADER, f"{customer},{item},5,1,2018-12-14 08:29:52", f"bob,{item},1,1,2018-12-14 08:29:52"
    )

    response = post_csv(api_client, content)

    assert response.status_code == HTTPStatus.OK, response.json()
    assert get_report(api_client).json() == {
        "response": [
            {"username": customer, "spent_money": 5, "gems": [item]},
            {"username": "bob", "spent_money": 1, "gems": [item]},
        ]
    }


def test_a_database_limit_reached_is_an_internal_error_not_an_outage(api_client, loaded, caplog):
    # Without the length check, the file reaches the btree limit in the refresh: a
    # program limit (SQLSTATE 54000), which must never read as "the database is unavailable".
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE deals_deal DROP CONSTRAINT deal_customer_length")
    content = csv_bytes(HEADER, f"{random_letters(2800)},Ruby,1,1,2018-12-14 08:29:52")

    response = post_csv(api_client, content)

    incident = incident_of(response)
    desc = f"internal error (id {incident}); the upload changed nothing"
    assert_refused(response, HTTPStatus.INTERNAL_SERVER_ERROR, desc, api_client, loaded)
    assert Upload.objects.latest("pk").error == desc
    assert "index row size" in logged_incident(caplog).getMessage()
