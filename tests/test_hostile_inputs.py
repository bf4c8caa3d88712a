"""The hostile input catalogue: every malformed upload is refused with a JSON error that says
what and where, and leaves the previous data, report and deals table exactly as they were."""

import gzip
import json
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from deals.errors import too_large
from deals.models import Deal, Upload
from tests.conftest import URL, WsgiInput, get_report, post_csv, wsgi_post

pytestmark = pytest.mark.django_db

HEADER = "customer,item,total,quantity,date"
GOOD = "ann,Ruby,5,1,2018-12-14 08:29:52"
EXPECTED_HEADER = "(expected customer,item,total,quantity,date)"
LINE_LIMIT = "longer than 1048576 bytes"
TOTAL_PROBLEM = "is not a non-negative number with at most 2 decimals"
QUANTITY_PROBLEM = "is not a positive integer"
DATE_PROBLEM = "is not an ISO 8601 date like 2018-12-14 or 2018-12-14 08:29:52.506166"
LATE_LINES = 150_000
SAVE_LINE_BREAKS = "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"


def lines(*rows: str, newline: str = "\n") -> bytes:
    return "".join(row + newline for row in rows).encode("utf-8")


def with_line(row: str) -> bytes:
    """A valid header and line, then `row` as line 3, then another valid line."""
    return lines(HEADER, GOOD, row, GOOD)


def bad_value(column: str, value: str) -> bytes:
    values = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    values[column] = value
    return with_line(",".join(values.values()))


def late_bad_utf8() -> bytes:
    """Megabytes of valid lines (COPY has loaded them) and then one that is not UTF-8."""
    body = lines(
        HEADER,
        *(f"c{number % 997},Ruby,{number}.5,2,2018-12-14 08:29:52" for number in range(LATE_LINES)),
    )
    return body + "müller,Ruby,5,1,2018-12-14 08:29:52\n".encode("latin-1") + lines(GOOD)


def ten_megabyte_line() -> bytes:
    return lines(HEADER, GOOD) + b"x" * (10 << 20) + b"\n"


def million_columns() -> bytes:
    return lines(",".join(["customer"] * 1_000_000), GOOD)


def ten_thousand_fields() -> bytes:
    return lines(HEADER, ",".join(["5"] * 10_000))


# (content, Desc): each is uploaded as the `deals` file and must answer 400 with this Desc.
FILE_CASES = {
    "empty file": (b"", "the file is empty"),
    "only a BOM": (b"\xef\xbb\xbf", "line 1: the header is missing"),
    "only blank lines": (b"\n\n\r\n\n", "line 1: the header is missing"),
    "only a header of spaces": (b"   \t \n" + lines(GOOD), "line 1: the header is missing"),
    "header with a space inside a name": (
        lines("cust omer,item,total,quantity,date", GOOD),
        f"line 1: header misses customer; has unknown 'cust omer' {EXPECTED_HEADER}",
    ),
    "header misses a column": (
        lines("customer,item,total,quantity", "ann,Ruby,5,1"),
        f"line 1: header misses date {EXPECTED_HEADER}",
    ),
    "header has an unknown column": (
        lines(HEADER + ",note", GOOD + ",hi"),
        f"line 1: header has unknown 'note' {EXPECTED_HEADER}",
    ),
    "header repeats a column": (
        lines(HEADER + ",total", GOOD + ",5"),
        f"line 1: header repeats total {EXPECTED_HEADER}",
    ),
    "a header of 200,000 commas": (
        b"," * 200_000 + b"\n" + lines(GOOD),
        "line 1: header misses customer, item, total, quantity, date; has empty names in"
        f" fields 1, 2, 3, 4, 5 and 199996 more {EXPECTED_HEADER}",
    ),
    "header padded with commas": (
        lines(HEADER + ",,", GOOD + ",,"),
        f"line 1: header has empty names in fields 6, 7 {EXPECTED_HEADER}",
    ),
    "excel semicolon-separated": (
        lines("customer;item;total;quantity;date", "ann;Ruby;5;1;2018-12-14 08:29:52"),
        "line 1: header misses customer, item, total, quantity, date; has unknown "
        f"'customer;item;total;quantity;date' {EXPECTED_HEADER}; "
        "the file looks semicolon-separated: save it as comma-separated CSV",
    ),
    "a million columns in the header": (million_columns, f"line 1: {LINE_LIMIT}"),
    "too few fields": (with_line("ann,Ruby,5,1"), "line 3: expected 5 fields, found 4"),
    "too many fields": (with_line(GOOD + ",7"), "line 3: expected 5 fields, found 6"),
    "10,000 fields": (ten_thousand_fields, "line 2: expected 5 fields, found 10000"),
    "a 10 MB single line": (ten_megabyte_line, f"line 3: {LINE_LIMIT}"),
    "unterminated quote": (
        with_line('ann,"Ruby,5,1,2018-12-14 08:29:52'),
        "line 3: item: unterminated quoted value (line breaks inside values are not supported)",
    ),
    "quote inside an unquoted value": (
        with_line('an"n,Ruby,5,1,2018-12-14 08:29:52'),
        "line 3: customer: a quote inside an unquoted value "
        '(quote the whole value and double the ")',
    ),
    "text after a closing quote": (
        with_line('"ann"x,Ruby,5,1,2018-12-14 08:29:52'),
        "line 3: customer: text after the closing quote",
    ),
    "end-of-data marker line": (with_line("\\."), "line 3: expected 5 fields, found 1"),
    "empty line in the middle": (with_line(""), "line 3: empty line"),
    "NUL byte": (with_line("ann,Ru\x00by,5,1,2018-12-14 08:29:52"), "line 3: contains a NUL byte"),
    "carriage return inside a line": (
        with_line("ann,Ru\rby,5,1,2018-12-14 08:29:52"),
        f"line 3: a carriage return (CR) inside the line; {SAVE_LINE_BREAKS}",
    ),
    # Files from the field (issue 10): the real cause in one sentence, no dump of the values.
    "Excel for Mac: CR-only line breaks": (
        lines(HEADER, *[GOOD] * 40, newline="\r"),
        f"line 1: line breaks are CR only (old Mac CSV); {SAVE_LINE_BREAKS}",
    ),
    "CR-only line breaks, over a megabyte": (
        lines(HEADER, *[GOOD] * 40_000, newline="\r"),
        f"line 1: line breaks are CR only (old Mac CSV); {SAVE_LINE_BREAKS}",
    ),
    "CR CR LF line breaks (CRLF written twice)": (
        lines(HEADER, GOOD, newline="\r\r\n"),
        f"line 1: the line ends with CR CR LF (a line break written twice); {SAVE_LINE_BREAKS}",
    ),
    "CR CR LF on a data line": (
        lines(HEADER, GOOD, newline="\r\n") + (GOOD + "\r\r\n").encode(),
        f"line 3: the line ends with CR CR LF (a line break written twice); {SAVE_LINE_BREAKS}",
    ),
    "CRLF header, then CR-only rows": (
        lines(HEADER, newline="\r\n") + lines(GOOD, GOOD, GOOD, newline="\r"),
        f"line 2: a carriage return (CR) inside the line; {SAVE_LINE_BREAKS}",
    ),
    "blanks outside the quotes": (
        with_line(' "ann" ,Ruby,5,1,2018-12-14'),
        "line 3: customer: a quote inside an unquoted value (quote the whole value and double "
        'the ")',
    ),
    "two exports joined: the header again": (
        lines(HEADER, GOOD, GOOD, GOOD, GOOD, HEADER, GOOD),
        "line 6: repeats the header line (two files joined?); remove it",
    ),
    "two Excel exports joined: sep=, again": (
        lines("sep=,", HEADER, GOOD, "sep=,", HEADER, GOOD),
        "line 4: a 'sep=,' line may only be the first line; remove it",
    ),
    "two Excel exports joined: BOM, CRLF": (
        (b"\xef\xbb\xbf" + lines(HEADER, GOOD, newline="\r\n")) * 2,
        "line 3: repeats the header line (two files joined?); remove it",
    ),
    "a line starting with a BOM": (
        lines(HEADER, GOOD) + b"\xef\xbb\xbf" + lines(GOOD),
        "line 3: starts with a byte-order mark (U+FEFF), likely from joining files; remove it",
    ),
    "a BOM inside a customer": (
        with_line('"a\ufeffnn",Ruby,5,1,2018-12-14'),
        "line 3: customer 'a\\ufeffnn' contains a byte-order mark (U+FEFF), an invisible"
        " character; remove it",
    ),
    "the header again, in other letter case": (
        lines(HEADER, GOOD, "Customer, Item, Total, Quantity, Date", GOOD),
        "line 3: repeats the header line (two files joined?); remove it",
    ),
    # The hostile review's findings: refused with the real cause.
    "CRLF file whose last line lost its LF": (
        lines(HEADER, GOOD, newline="\r\n") + (GOOD + "\r").encode(),
        f"line 3: the last line ends with CR, not CRLF or LF; {SAVE_LINE_BREAKS}",
    ),
    "a carriage return inside the header": (
        lines("cust\romer,item,total,quantity,date", GOOD),
        f"line 1: a carriage return (CR) inside the line; {SAVE_LINE_BREAKS}",
    ),
    "a second sep=, line": (
        lines("sep=,", "sep=,", HEADER, GOOD),
        "line 2: a 'sep=,' line may only be the first line; remove it",
    ),
    "Excel's empty rows before a deal": (
        lines(HEADER, GOOD, ",,,,", ",,,,", GOOD),
        "line 3: empty row (only commas); empty rows may only follow the last deal",
    ),
    "Excel sep=; line": (
        lines("sep=;", "customer;item;total;quantity;date", "ann;Ruby;5;1;2018-12-14"),
        "line 1: the file declares ';' as its separator (sep=;); save it as comma-separated",
    ),
    "Excel sep= line with two commas": (
        lines("sep=,,", HEADER, GOOD),
        "line 1: 'sep=,,' is not a valid separator line (Excel writes sep=,); write sep=, or"
        " remove it",
    ),
    "only a sep=, line": (lines("sep=,"), "line 2: the header is missing"),
    "empty lines, then a line": (
        lines(HEADER, GOOD, "", " ", GOOD, ""),
        "line 3: empty line",
    ),
    "a megabyte of empty lines, then a line": (
        lambda: lines(HEADER, GOOD) + b" \r\n" * (1 << 19) + lines(GOOD),
        "line 3: empty line",
    ),
    "a bad line after a sep=, line keeps its number": (
        lines("sep=,", HEADER, GOOD, "ann,Ruby,x,1,2018-12-14"),
        f"line 4: total 'x' {TOTAL_PROBLEM}",
    ),
    "a value PostgreSQL refuses after a sep=, line keeps its number": (
        lines("sep=,", HEADER, GOOD, "ann,Ruby,5,1,2018-02-30"),
        "line 4: date '2018-02-30' is not a valid date and time",
    ),
    "customer over 256 characters after blanks are trimmed": (
        with_line(f"  {'ж' * 257}  ,Ruby,5,1,2018-12-14"),
        "line 3: customer is longer than 256 characters",
    ),
    "mixed line endings": (
        lines(HEADER, GOOD, newline="\r\n") + lines(GOOD),
        "line 3: ends with LF but the header with CRLF (mixed line endings)",
    ),
    "latin-1 line": (
        lines(HEADER, GOOD) + "müller,Ruby,5,1,2018-12-14 08:29:52\n".encode("latin-1"),
        "line 3: not UTF-8 text (byte 0xfc); save the file as UTF-8 CSV",
    ),
    "invalid UTF-8 late in a large file": (
        late_bad_utf8,
        f"line {LATE_LINES + 2}: not UTF-8 text (byte 0xfc); save the file as UTF-8 CSV",
    ),
    "UTF-16 file": (
        (HEADER + "\n" + GOOD + "\n").encode("utf-16"),
        "line 1: not UTF-8 text (byte 0xff); save the file as UTF-8 CSV",
    ),
    "gzip file named .csv": (
        gzip.compress(lines(HEADER, GOOD), mtime=0),
        "line 1: not UTF-8 text (byte 0x8b); save the file as UTF-8 CSV",
    ),
    "PNG image": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "line 1: not UTF-8 text (byte 0x89); save the file as UTF-8 CSV",
    ),
}


# (column, the field as written, the problem): each in a file of valid lines, as line 3.
BAD_VALUES = [
    ("customer", "", "is empty"),
    ("item", "   ", "is empty"),
    ("total", "abc", TOTAL_PROBLEM),
    ("total", "NaN", TOTAL_PROBLEM),
    ("total", "infinity", TOTAL_PROBLEM),
    ("total", " 12 ", TOTAL_PROBLEM),
    ("total", "+5", TOTAL_PROBLEM),
    ("total", "-1", TOTAL_PROBLEM),
    ("total", "1.123", TOTAL_PROBLEM),
    ("total", "1e3", TOTAL_PROBLEM),
    ("total", '"12,5"', TOTAL_PROBLEM),
    ("total", "1000000000000.01", "is over 1000000000000"),
    ("total", "00001000000000000.01", "is over 1000000000000"),
    ("total", ".5", TOTAL_PROBLEM),
    ("quantity", "0", QUANTITY_PROBLEM),
    ("quantity", "000", QUANTITY_PROBLEM),
    ("quantity", "-3", QUANTITY_PROBLEM),
    ("quantity", "1.5", QUANTITY_PROBLEM),
    ("quantity", "2147483648", "is out of range (at most 2147483647)"),
    ("date", "tomorrow", DATE_PROBLEM),
    ("date", "2018-12-14T", DATE_PROBLEM),
    ("date", "2018-12-14+03:00", DATE_PROBLEM),
    ("date", " 2018-12-14", DATE_PROBLEM),
    ("total", " 5", TOTAL_PROBLEM),
    ("quantity", "1 ", QUANTITY_PROBLEM),
    ("customer", '" \t"', "is empty"),
    ("date", "2018-02-30 08:29:52", "is not a valid date and time"),
    # Offsets PostgreSQL refuses (over ±15:59) are refused by the same rule as other bad dates.
    ("date", "2018-12-14 08:29:52+16:00", DATE_PROBLEM),
    ("date", "2018-12-14 08:29:52-23:59", DATE_PROBLEM),
]


def bad_value_case(column: str, field: str, problem: str) -> tuple[bytes, str]:
    shown = field.strip('"')  # the Desc shows the value, not the field's quotes
    return bad_value(column, field), f"line 3: {column} {shown!r} {problem}"


FILE_CASES |= {
    f"{column} {field!r}": bad_value_case(column, field, problem)
    for column, field, problem in BAD_VALUES
}


@pytest.fixture
def previous(api_client, deals_csv, expected_report) -> dict:
    """The canonical data is loaded; what must still be there after each refused upload."""
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    assert get_report(api_client).json() == expected_report
    return {"report": expected_report, "deals": deals_snapshot(), "uploads": Upload.objects.count()}


def deals_snapshot() -> list[tuple]:
    return list(Deal.objects.order_by("pk").values_list())


def assert_error(response, status: HTTPStatus, desc: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"Status": "Error", "Desc": desc}


def assert_unchanged(api_client, previous: dict) -> None:
    assert get_report(api_client).json() == previous["report"]
    assert deals_snapshot() == previous["deals"]


@pytest.mark.parametrize(("content", "desc"), FILE_CASES.values(), ids=FILE_CASES.keys())
def test_malformed_file_is_refused_and_changes_nothing(api_client, previous, content, desc):
    content = content() if callable(content) else content
    response = post_csv(api_client, content, name="hostile.csv")
    assert_error(response, HTTPStatus.BAD_REQUEST, desc)
    assert_unchanged(api_client, previous)
    attempt = Upload.objects.latest("pk")
    assert (attempt.filename, attempt.status, attempt.error, attempt.size) == (
        "hostile.csv",
        Upload.Status.ERROR,
        desc,
        len(content),
    )


def _file() -> SimpleUploadedFile:
    return SimpleUploadedFile("deals.csv", lines(HEADER, GOOD), content_type="text/csv")


def _multipart(**fields) -> dict:
    return {"data": fields, "format": "multipart"}


def _raw(body: str | bytes, content_type: str) -> dict:
    return {"data": body, "content_type": content_type}


NO_FILE = "deals: no file in the multipart field 'deals'"
HOW_TO_UPLOAD = (
    "send the file as the multipart field 'deals' (curl -F deals=@deals.csv) "
    "or as a text/csv body (curl --data-binary @deals.csv -H 'Content-Type: text/csv')"
)

# (request, status, Desc): refused before the file reaches the service. Requests are built
# per run, because an uploaded file object is consumed by the request that sends it.
REQUEST_CASES = {
    "no deals field": (lambda: _multipart(file=_file()), HTTPStatus.BAD_REQUEST, NO_FILE),
    "no fields at all": (_multipart, HTTPStatus.BAD_REQUEST, NO_FILE),
    "deals field sent twice": (
        lambda: _multipart(deals=[_file(), _file()]),
        HTTPStatus.BAD_REQUEST,
        "send exactly one file in the multipart field 'deals'",
    ),
    "JSON body": (
        lambda: _raw(json.dumps({"deals": GOOD}), "application/json"),
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"the body is application/json, not an upload; {HOW_TO_UPLOAD}",
    ),
    "urlencoded form": (
        lambda: _raw("deals=" + GOOD, "application/x-www-form-urlencoded"),
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"the body is application/x-www-form-urlencoded, not an upload; {HOW_TO_UPLOAD}",
    ),
    "multipart without a boundary": (
        lambda: _raw(lines(HEADER, GOOD), "multipart/form-data"),
        HTTPStatus.BAD_REQUEST,
        f"the multipart Content-Type has no boundary; {HOW_TO_UPLOAD}",
    ),
}


@pytest.mark.parametrize(
    ("request_kwargs", "status", "desc"), REQUEST_CASES.values(), ids=REQUEST_CASES.keys()
)
def test_malformed_request_is_refused_and_changes_nothing(
    api_client, previous, request_kwargs, status, desc
):
    response = api_client.post(URL, **request_kwargs())
    assert_error(response, status, desc)
    assert_unchanged(api_client, previous)
    assert Upload.objects.count() == previous["uploads"]


def multipart_body(content: bytes, boundary: str = "hostile-boundary") -> bytes:
    return (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="deals"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def test_upload_over_the_size_limit_is_refused_before_the_body_is_read(
    api_client, previous, settings
):
    settings.DEALS_MAX_UPLOAD_MB = 1
    body = multipart_body(lines(HEADER) + lines(GOOD) * 70_000)  # about 2.3 MB
    stream = WsgiInput(body)
    response = wsgi_post(stream, "multipart/form-data; boundary=hostile-boundary", length=len(body))
    assert_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large(1).message)
    assert stream.bytes_read == 0
    assert_unchanged(api_client, previous)


def test_upload_just_under_the_size_limit_is_accepted(api_client, previous, settings):
    settings.DEALS_MAX_UPLOAD_MB = 1
    content = lines(HEADER) + lines(GOOD) * 30_000  # about 1 MB minus the multipart overhead
    assert len(multipart_body(content)) < 1 << 20
    response = post_csv(api_client, content)
    assert response.status_code == HTTPStatus.OK
    assert get_report(api_client).json() == {
        "response": [{"username": "ann", "spent_money": 150000, "gems": []}]
    }
