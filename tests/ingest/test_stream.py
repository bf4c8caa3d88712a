import csv
import hashlib
import io
import time

import pytest

from deals.ingest import stream as ingest_stream
from deals.ingest.fields import STRAY_QUOTE, UNTERMINATED
from deals.ingest.format import CsvError
from deals.ingest.stream import BOM, ValidatedCsv

HEADER = "customer,item,total,quantity,date"
COLUMNS = ("customer", "item", "total", "quantity", "date")
GOOD = "bob,Ruby,612.5,2,2018-12-14 08:29:52.506166"
NOT_TOTAL = "is not a non-negative number with at most 2 decimals"
NOT_QUANTITY = "is not a positive integer"
EXPECTED = "(expected customer,item,total,quantity,date)"
NOT_DATE = "is not an ISO 8601 date like 2018-12-14 or 2018-12-14 08:29:52.506166"


def lines(*rows: str, newline: str = "\r\n") -> bytes:
    return "".join(row + newline for row in rows).encode()


def drain(content: bytes) -> tuple[bytes, str | None]:
    """Everything the stream hands to COPY, and its error text (None when valid)."""
    stream = ValidatedCsv(io.BytesIO(content))
    handed = b"".join(iter(lambda: stream.read(8192), b""))
    return handed, stream.error.message if stream.error else None


def error_of(content: bytes) -> str | None:
    try:
        return drain(content)[1]
    except CsvError as exc:  # the header is checked when the stream opens
        return exc.message


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 bytes: every file of a few lines spans many chunks."""
    monkeypatch.setattr(ingest_stream, "CHUNK_BYTES", 64)
    monkeypatch.setattr(ingest_stream, "MAX_LINE_BYTES", 200)


@pytest.fixture
def explained(monkeypatch) -> list[int]:
    """The numbers of the lines the stream checks one by one (the slow path)."""
    numbers: list[int] = []
    checked_line = ValidatedCsv._checked_line

    def counted(self, line: bytes, number: int):
        numbers.append(number)
        return checked_line(self, line, number)

    monkeypatch.setattr(ValidatedCsv, "_checked_line", counted)
    return numbers


@pytest.fixture
def walked(monkeypatch) -> list[int]:
    """How many lines each body the stream walks line by line holds (the slow path)."""
    counts: list[int] = []
    check_lines = ValidatedCsv._check_lines

    def counted(self, body: bytes):
        counts.append(len(body.splitlines()))
        return check_lines(self, body)

    monkeypatch.setattr(ValidatedCsv, "_check_lines", counted)
    return counts


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda data: data, id="crlf"),
        pytest.param(lambda data: data.replace(b"\r\n", b"\n"), id="lf"),
        pytest.param(lambda data: BOM + data, id="bom"),
    ],
)
def test_a_valid_file_is_checked_chunk_by_chunk_never_line_by_line(deals_csv, explained, variant):
    content = variant(deals_csv)

    assert drain(content) == (content, None)
    assert explained == []


def test_only_a_last_line_without_a_break_is_checked_on_its_own(deals_csv, explained):
    content = deals_csv.removesuffix(b"\r\n")

    assert drain(content) == (content, None)
    assert explained == [768]


def test_only_the_chunk_with_the_bad_line_is_checked_line_by_line(small_chunks, explained):
    rows = [GOOD] * 30 + ["bob,Ruby,x,1,2018-12-14 08:29:52"]

    assert drain(lines(HEADER, *rows))[1] == f"line 32: total 'x' {NOT_TOTAL}"
    assert explained[-1] == 32
    assert len(explained) < 3  # 64-byte chunks hold at most two lines of 45 bytes


def test_valid_file_is_handed_over_unchanged():
    content = lines(HEADER, GOOD, GOOD)
    stream = ValidatedCsv(io.BytesIO(content))

    handed = b"".join(iter(lambda: stream.read(8192), b""))

    assert handed == content
    assert stream.error is None
    assert stream.columns == ("customer", "item", "total", "quantity", "date")
    assert (stream.size, stream.sha256) == (len(content), hashlib.sha256(content).hexdigest())


def test_header_order_is_the_column_order():
    stream = ValidatedCsv(io.BytesIO(lines("date,total,customer,quantity,item")))

    assert stream.columns == ("date", "total", "customer", "quantity", "item")


def test_many_chunks_are_handed_over_unchanged(small_chunks):
    content = lines(
        HEADER, *[f"customer{n},Ruby,{n}.5,{n + 1},2018-12-14 08:29:52" for n in range(50)]
    )

    assert drain(content) == (content, None)


def test_error_in_a_later_chunk_names_its_physical_line(small_chunks):
    rows = [GOOD] * 30 + ["bob,Ruby,x,1,2018-12-14 08:29:52"] + [GOOD] * 5

    handed, error = drain(lines(HEADER, *rows))

    assert error == f"line 32: total 'x' {NOT_TOTAL}"
    assert handed == lines(HEADER, *[GOOD] * 30)  # the lines before it, not one more


def test_last_line_without_line_break():
    content = lines(HEADER, GOOD) + GOOD.encode()

    assert drain(content) == (content, None)


def test_bad_last_line_without_line_break():
    content = lines(HEADER, GOOD) + b"bob,Ruby,1,1"

    assert error_of(content) == "line 3: expected 5 fields, found 4"


def test_line_longer_than_the_limit(small_chunks):
    content = lines(HEADER, GOOD, "x" * 300)

    assert error_of(content) == "line 3: longer than 200 bytes"


def test_header_longer_than_the_limit(small_chunks):
    assert error_of(lines("x" * 300)) == "line 1: longer than 200 bytes"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf", "line 1: the header is missing"),
        (b"\r\n\r\n", "line 1: the header is missing"),
        (lines(" Customer ,ITEM,\ttotal, Quantity ,Date"), None),
        (lines('" customer ",item,total,quantity,date'), None),
        (
            lines("cust omer,item,total,quantity,date"),
            f"line 1: header misses customer; has unknown 'cust omer' {EXPECTED}",
        ),
        (
            lines("customer;item;total;quantity;date"),
            "line 1: header misses customer, item, total, quantity, date;"
            f" has unknown 'customer;item;total;quantity;date' {EXPECTED};"
            " the file looks semicolon-separated: save it as comma-separated CSV",
        ),
        (
            lines("customer,item,total,quantity,date,customer"),
            f"line 1: header repeats customer {EXPECTED}",
        ),
        (
            lines("customer,item,total,quantity,date,customer,item"),
            f"line 1: header repeats customer, item {EXPECTED}",
        ),
        (
            lines("customer\titem\ttotal\tquantity\tdate"),
            "line 1: header misses customer, item, total, quantity, date;"
            f" has unknown 'customer\\titem\\ttotal\\tquantity\\tdate' {EXPECTED};"
            " the file looks tab-separated: save it as comma-separated CSV",
        ),
        (  # a comma as well: not another separator, no hint
            lines("customer;item,total,quantity,date"),
            f"line 1: header misses customer, item; has unknown 'customer;item' {EXPECTED}",
        ),
        (
            lines("deals"),
            f"line 1: header misses {', '.join(COLUMNS)}; has unknown 'deals' {EXPECTED}",
        ),
        (  # long unknown names shortened to 40 characters, five of them named, the rest counted
            lines(",".join(["customer,item,total,quantity,date", "a" * 40, "b" * 41, *"cdefg"])),
            f"line 1: header has unknown '{'a' * 40}', '{'b' * 37}...', 'c', 'd', 'e' and 2 more"
            f" {EXPECTED}",
        ),
        (  # five names listed, no count
            lines(",".join([HEADER, *"abcde"])),
            f"line 1: header has unknown 'a', 'b', 'c', 'd', 'e' {EXPECTED}",
        ),
        (
            lines(",".join([HEADER, *"abcdef"])),
            f"line 1: header has unknown 'a', 'b', 'c', 'd', 'e' and 1 more {EXPECTED}",
        ),
        (  # an unknown name repeated: quoted (it may hold a comma) and shortened
            lines(",".join([HEADER, "Note", '" note"', "x" * 41, "X" * 41])),
            f"line 1: header has unknown 'Note', ' note', '{'x' * 37}...', '{'X' * 37}...';"
            f" repeats 'note', '{'x' * 37}...' {EXPECTED}",
        ),
        (  # an empty name is named by its field (Excel pads a row with commas)
            lines("customer,item,total,quantity,date,"),
            f"line 1: header has an empty name in field 6 {EXPECTED}",
        ),
        (  # blank-only names are empty once trimmed, and never said to repeat
            lines('customer, ,item,"",total,quantity,date'),
            f"line 1: header has empty names in fields 2, 4 {EXPECTED}",
        ),
        (  # a header of only commas: one short sentence, however many fields
            b"," * 200_000 + b"\r\n",
            "line 1: header misses customer, item, total, quantity, date; has empty names in"
            f" fields 1, 2, 3, 4, 5 and 199996 more {EXPECTED}",
        ),
        (  # repeated names: at most five named, sorted, the others counted; unknown ones quoted
            lines(",".join([HEADER, HEADER, *(f"x{n},x{n}" for n in range(1000))])),
            "line 1: header has unknown 'x0', 'x0', 'x1', 'x1', 'x2' and 1995 more;"
            f" repeats customer, date, item, quantity, total and 1000 more {EXPECTED}",
        ),
        (lines('"customer","item","total","quantity","date"', GOOD), None),
        (b"\x1f\x8b\x08\x00\xff", "line 1: not UTF-8 text (byte 0x8b); save the file as UTF-8 CSV"),
    ],
)
def test_header(content, error):
    assert error_of(content) == error


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("", "line 2: empty line"),
        ("  ", "line 2: empty line"),
        ("\\.", "line 2: expected 5 fields, found 1"),
        ('"\\."', "line 2: expected 5 fields, found 1"),
        (",".join(["x"] * 10000), "line 2: expected 5 fields, found 10000"),
        (
            "bob,Ruby,1,1,2018-12-14 08:29:52\r",
            "line 2: the line ends with CR CR LF (a line break written twice); "
            "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)",
        ),
        (
            "bob,Ru\rby,1,1,2018-12-14 08:29:52",
            "line 2: a carriage return (CR) inside the line; "
            "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)",
        ),
        (
            'bob,Ru"by,1,1,2018-12-14 08:29:52',
            "line 2: item: " + STRAY_QUOTE,
        ),
        ('bob,"Ruby"x,1,1,2018-12-14 08:29:52', "line 2: item: text after the closing quote"),
        (
            'bob,"Ruby,1,1,2018-12-14 08:29:52',
            "line 2: item: " + UNTERMINATED,
        ),
        (",Ruby,1,1,2018-12-14 08:29:52", "line 2: customer '' is empty"),
        ("   ,Ruby,1,1,2018-12-14 08:29:52", "line 2: customer '   ' is empty"),
        ('bob,"",1,1,2018-12-14 08:29:52', "line 2: item '' is empty"),
        ("\x0b\x0c,Ruby,1,1,2018-12-14 08:29:52", "line 2: customer '\\x0b\\x0c' is empty"),
    ],
)
def test_malformed_line(row, error):
    assert error_of(lines(HEADER, row, GOOD)) == error


def test_mixed_line_endings():
    crlf_then_lf = lines(HEADER, GOOD) + lines(GOOD, newline="\n")
    lf_then_crlf = lines(HEADER, newline="\n") + lines(GOOD)

    assert (
        error_of(crlf_then_lf)
        == "line 3: ends with LF but the header with CRLF (mixed line endings)"
    )
    assert (
        error_of(lf_then_crlf)
        == "line 2: ends with CRLF but the header with LF (mixed line endings)"
    )


@pytest.mark.parametrize(
    "total",
    [
        "0",
        "612",
        "612.5",
        "612.50",
        "0.01",
        "1000000000000",
        "1000000000000.00",
        '"612"',
        # Leading zeros: the value counts, not the digits.
        "007",
        "00",
        "00.50",
        "0000000000001",
        "000999999999999.99",
        "0001000000000000",
    ],
)
def test_valid_total(total):
    assert error_of(lines(HEADER, f"bob,Ruby,{total},1,2018-12-14 08:29:52")) is None


@pytest.mark.parametrize(
    "total",
    [
        "abc",
        " 12",
        "12 ",
        "+5",
        "-1",
        "NaN",
        "nan",
        "Infinity",
        "infinity",
        "1e3",
        "1.123",
        ".5",
        "0.",
        "00.",
        "5.",
        "0x10",
        "\uff11\uff12",
    ],
)
def test_invalid_total(total):
    content = lines(HEADER, f"bob,Ruby,{total},1,2018-12-14 08:29:52")

    assert error_of(content) == f"line 2: total {total!r} {NOT_TOTAL}"


@pytest.mark.parametrize("total", ["1000000000000.01", "0001000000000000.01", "10000000000000"])
def test_total_over_the_limit(total):
    content = lines(HEADER, f"bob,Ruby,{total},1,2018-12-14 08:29:52")

    assert error_of(content) == f"line 2: total {total!r} is over 1000000000000"


@pytest.mark.parametrize(
    "quantity", ["1", "7", "2147483647", '"3"', "01", "0000000000002147483647"]
)
def test_valid_quantity(quantity):
    assert error_of(lines(HEADER, f"bob,Ruby,1,{quantity},2018-12-14 08:29:52")) is None


@pytest.mark.parametrize("quantity", ["0", "00", "-1", "1.0", " 1", "+1", "one", "1e2", "NaN"])
def test_invalid_quantity(quantity):
    content = lines(HEADER, f"bob,Ruby,1,{quantity},2018-12-14 08:29:52")

    assert error_of(content) == f"line 2: quantity {quantity!r} {NOT_QUANTITY}"


@pytest.mark.parametrize(
    "date",
    [
        "2018-12-14 08:29:52.506166",
        "2018-12-14 08:29:52",
        "2018-12-14T08:29:52",
        "2018-12-14T08:29:52.5Z",
        "2018-12-14 08:29:52+03:00",
        "2018-12-14 08:29:52+0300",
        "2018-12-14 08:29:52-05",
        "2018-12-14 08:29:52+15:59",
        "2018-12-14 08:29:52-1559",
        "2018-12-14 08:29:52+15",
        "2018-12-14 23:59:59.999999",
        "2018-12-14",
    ],
)
def test_valid_date(date):
    assert error_of(lines(HEADER, f"bob,Ruby,1,1,{date}")) is None


@pytest.mark.parametrize(
    "date",
    [
        "tomorrow",
        "now",
        "infinity",
        "epoch",
        "2018-12-14T",
        "2018-12-14Z",
        "2018-12-14+03:00",
        "2018-12",
        "2018-12-14 24:00:00",
        "2018-13-01 00:00:00",
        "2018-12-14 08:29:60",
        "2018-12-14 08:29:52.1234567",
        "14.12.2018 08:29:52",
        " 2018-12-14 08:29:52",
        "2018-12-14 08:29:52 ",
        "2018-12-14 08:29:52 UTC",
        # PostgreSQL takes offsets up to ±15:59 only.
        "2018-12-14 08:29:52+16:00",
        "2018-12-14 08:29:52-23:59",
        "2018-12-14 08:29:52+2359",
        "2018-12-14 08:29:52-16",
    ],
)
def test_invalid_date(date):
    content = lines(HEADER, f"bob,Ruby,1,1,{date}")

    assert error_of(content) == f"line 2: date {date!r} {NOT_DATE}"


@pytest.mark.parametrize(
    ("length", "shown"), [(80, "x" * 80), (81, "x" * 77 + "..."), (82, "x" * 77 + "...")]
)
def test_values_over_80_characters_are_shortened_to_80(length, shown):
    error = error_of(lines(HEADER, f"bob,Ruby,1,{'x' * length},2018-12-14 08:29:52"))

    assert error == f"line 2: quantity '{shown}' {NOT_QUANTITY}"


def test_long_value_is_shortened_in_the_message():
    quantity = "x" * 100

    error = error_of(lines(HEADER, f"bob,Ruby,1,{quantity},2018-12-14 08:29:52"))

    assert error == f"line 2: quantity '{'x' * 77}...' {NOT_QUANTITY}"


def test_quantity_too_large_is_said_so():
    error = error_of(lines(HEADER, f"bob,Ruby,1,{'9' * 20},2018-12-14 08:29:52"))

    assert error == f"line 2: quantity '{'9' * 20}' is out of range (at most 2147483647)"


# What has one obvious meaning is read: Excel's `sep=,` line, header names in any case with
# blanks, blanks around text values, empty lines at the end.

CR_ONLY = (
    "line breaks are CR only (old Mac CSV); "
    "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"
)
DOUBLED_CR = (
    "the line ends with CR CR LF (a line break written twice); "
    "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"
)
CR_INSIDE = (
    "a carriage return (CR) inside the line; "
    "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"
)
LAST_CR = (
    "the last line ends with CR, not CRLF or LF; "
    "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"
)
SEPARATOR_LINE = "a 'sep=,' line may only be the first line; remove it"
REPEATED_HEADER = "repeats the header line (two files joined?); remove it"
EMPTY_ROW = "empty row (only commas); empty rows may only follow the last deal"


@pytest.mark.parametrize(
    "tail",
    [
        "\r\n",
        "\r\n\r\n\r\n",
        "  \r\n\t\r\n",
        "\n",
        "\r\n \r\n  ",
        ",,,,\r\n,,,,\r\n",
        ",,,,",
        "\r\n,,,,\r\n , ,\t,,\r\n",
        ",,,,,,,\r\n",
    ],
    ids=[
        "one",
        "three",
        "blanks",
        "lf",
        "blanks without a final break",
        "Excel's empty rows",
        "an empty row without a final break",
        "empty lines and rows mixed",
        "an empty row of more columns",
    ],
)
def test_empty_lines_at_the_end_are_dropped(tail):
    content = lines(HEADER, GOOD, GOOD)

    assert drain(content + tail.encode()) == (content, None)


def test_empty_lines_after_a_lone_header_are_dropped():
    assert drain(lines(HEADER, "", "")) == (lines(HEADER), None)


def test_empty_lines_before_a_line_are_refused_at_the_first(small_chunks):
    # The empty lines end one chunk, the next line starts another.
    content = lines(HEADER, GOOD, "", "  ", GOOD)

    handed, error = drain(content)

    assert error == "line 3: empty line"
    assert handed == lines(HEADER, GOOD)


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ([",,,,", GOOD], f"line 3: {EMPTY_ROW}"),
        ([",,,,", "", GOOD], f"line 3: {EMPTY_ROW}"),
        (["", ",,,,", GOOD], "line 3: empty line"),
    ],
)
def test_empty_rows_before_a_line_are_refused_at_the_first(small_chunks, rows, error):
    handed, refused = drain(lines(HEADER, GOOD, *rows))

    assert (handed, refused) == (lines(HEADER, GOOD), error)


# Megabytes of empty lines cost a regex pass per chunk, as clean rows do: never a Python step
# per line (80 MB of them took 34-40 s of CPU, a row after 10 MB of them 4.5 s).
EMPTY_RUNS = {
    "LF": b"\n",
    "CRLF": b"\r\n",
    "blanks": b" \t\r\n",
    "Excel's empty rows": b",,,,\r\n",
}


@pytest.mark.parametrize("empty", EMPTY_RUNS.values(), ids=EMPTY_RUNS.keys())
def test_megabytes_of_empty_lines_at_the_end_are_dropped_by_regex(walked, empty):
    content = lines(HEADER, *[GOOD] * 2000)  # the empty lines start inside the second chunk

    assert drain(content + empty * 300_000) == (content, None)
    assert walked == []


@pytest.mark.parametrize(
    ("empty", "error"),
    [
        (b"\n", "empty line"),
        (b"\r\n", "empty line"),
        (b" \t\r\n", "empty line"),
        (b",,,,\r\n", EMPTY_ROW),
        (b" ,\t,\r\n", EMPTY_ROW),
    ],
    ids=["LF", "CRLF", "blanks", "Excel's empty rows", "a row of commas and blanks"],
)
def test_a_row_after_megabytes_of_empty_lines_is_refused_at_the_first(walked, empty, error):
    content = lines(HEADER, *[GOOD] * 2000) + empty + b"\r\n" * 300_000 + lines(GOOD)

    handed, refused = drain(content)

    assert (handed, refused) == (lines(HEADER, *[GOOD] * 2000), f"line 2002: {error}")
    assert walked == []


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        # A line over the limit is said so at its own number, counted past the empty lines.
        (lines("", "  ", "x" * 300), "line 5: longer than 200 bytes"),
        (lines(*[""] * 5) + b"x" * 300, "line 8: longer than 200 bytes"),
        (lines(*[",,,,"] * 3, "x" * 300, GOOD), "line 6: longer than 200 bytes"),
        (lines("", "", GOOD), "line 3: empty line"),
        (lines("", GOOD + "\x00"), "line 3: empty line"),  # whatever the row, the empty line
        (lines("", "", "bob,Ruby,x,1,2018-12-14"), "line 3: empty line"),
        (lines(" ", "", "") + b"x", "line 3: empty line"),  # the last line, without a break
        (lines("bob,Ruby,x,1,2018-12-14", "", GOOD), f"line 3: total 'x' {NOT_TOTAL}"),
    ],
)
def test_empty_lines_across_chunks_keep_their_numbers(small_chunks, tail, error):
    content = lines(HEADER, GOOD)

    assert drain(content + tail) == (content, error)


@pytest.mark.parametrize("declaration", ["sep=,", "SEP=,", "\ufeffsep=,"])
def test_excel_separator_line_is_skipped(declaration):
    content = lines(HEADER, GOOD)

    stream = ValidatedCsv(io.BytesIO(lines(declaration) + content))
    handed = b"".join(iter(stream.read, b""))

    assert (handed, stream.error, stream.lines_before_header) == (content, None, 1)
    assert stream.size == len(lines(declaration) + content)


def test_lines_after_a_separator_line_keep_their_numbers():
    content = lines("sep=,", HEADER, GOOD, "bob,Ruby,x,1,2018-12-14 08:29:52")

    assert error_of(content) == f"line 4: total 'x' {NOT_TOTAL}"


BAD_SEPARATOR_LINE = "is not a valid separator line (Excel writes sep=,); write sep=, or remove it"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            lines("sep=;", "customer;item;total;quantity;date"),
            "line 1: the file declares ';' as its separator (sep=;); save it as comma-separated",
        ),
        (  # a separator that is not UTF-8 is still named
            b"sep=\xff\r\n" + lines(HEADER),
            "line 1: the file declares '\ufffd' as its separator (sep=\ufffd);"
            " save it as comma-separated",
        ),
        (  # a separator written as more than one character, or none
            lines("sep=,,", HEADER, GOOD),
            f"line 1: 'sep=,,' {BAD_SEPARATOR_LINE}",
        ),
        (lines("\ufeffSEP=", HEADER), f"line 1: 'SEP=' {BAD_SEPARATOR_LINE}"),
        (lines("sep=, ", HEADER), f"line 1: 'sep=, ' {BAD_SEPARATOR_LINE}"),
        (b"sep=\xff\xfe\r\n" + lines(HEADER), f"line 1: 'sep=\ufffd\ufffd' {BAD_SEPARATOR_LINE}"),
        (lines("sep=" + "," * 50), f"line 1: 'sep={',' * 33}...' {BAD_SEPARATOR_LINE}"),
        (  # one character, not one byte
            lines("sep=€", HEADER),
            "line 1: the file declares '€' as its separator (sep=€); save it as comma-separated",
        ),
        (lines("sep=,"), "line 2: the header is missing"),
        (
            lines("sep=,", "customer,item"),
            f"line 2: header misses total, quantity, date {EXPECTED}",
        ),
        (
            lines(HEADER, GOOD, "sep=,"),
            "line 3: a 'sep=,' line may only be the first line; remove it",
        ),
    ],
)
def test_separator_line_refused(content, error):
    assert error_of(content) == error


TRIMMED_GOOD = '"bob","Ruby",612.5,2,2018-12-14 08:29:52.506166'  # GOOD as the trim pass writes it


@pytest.mark.parametrize(
    ("row", "written"),
    [
        (" bob ,Ruby,612.5,2,2018-12-14", '"bob","Ruby",612.5,2,2018-12-14'),
        ("bob,\tRuby\t,612.5,2,2018-12-14", '"bob","Ruby",612.5,2,2018-12-14'),
        (
            '" Smith, John ","Ruby ""Star"" ",1,1,2018-12-14',
            '"Smith, John","Ruby ""Star""",1,1,2018-12-14',
        ),
        ("  Lapis lazuli  ,Opal,1,1,2018-12-14", '"Lapis lazuli","Opal",1,1,2018-12-14'),
        ('"bob"," Ruby","1","2","2018-12-14"', '"bob","Ruby",1,2,2018-12-14'),
        ("\x0bbob\x0c,Ruby ,1,1,2018-12-14", '"bob","Ruby",1,1,2018-12-14'),
    ],
)
def test_blanks_around_text_values_are_trimmed(row, written):
    # A chunk whose lines are all valid once trimmed: one regex pass and one substitution,
    # which writes every line of the chunk with its text values quoted.
    handed, error = drain(lines(HEADER, GOOD, row, GOOD))

    assert (handed, error) == (lines(HEADER, TRIMMED_GOOD, written, TRIMMED_GOOD), None)


def test_error_after_trimmed_chunks_names_its_physical_line(small_chunks):
    rows = [" bob ,Ruby,1,1,2018-12-14"] * 30 + ["bob,Ruby,x,1,2018-12-14"]

    handed, error = drain(lines(HEADER, *rows))

    assert error == f"line 32: total 'x' {NOT_TOTAL}"
    assert handed == lines(HEADER, *['"bob","Ruby",1,1,2018-12-14'] * 30)


def test_read_ahead_loses_no_chunk_when_copy_reads_slowly():
    content = lines(HEADER, *[GOOD] * 20_000)  # about 20 chunks, the queue holds 8
    feed = ingest_stream.ReadAhead(ValidatedCsv(io.BytesIO(content)), depth=2)

    with feed:
        handed = [feed.read()]
        while not feed._chunks.full():  # the helper now waits to put the next chunk
            time.sleep(0.01)
        time.sleep(0.3)  # longer than the helper's wait: it must try again, not drop it
        handed += iter(feed.read, b"")

    assert b"".join(handed) == content


def test_trimmed_lines_before_a_bad_line_are_handed_over_trimmed():
    # A chunk with a bad line is read line by line: lines are kept, or trimmed, up to it.
    content = lines(HEADER, GOOD, " bob ,Ruby,1,1,2018-12-14", "bob,Ruby,x,1,2018-12-14", GOOD)

    handed, error = drain(content)

    assert error == f"line 4: total 'x' {NOT_TOTAL}"
    assert handed == lines(HEADER, GOOD, '"bob","Ruby",1,1,2018-12-14')


@pytest.mark.parametrize("after", [[], ["bob,Ruby,x,1,2018-12-14"]], ids=["chunk", "line by line"])
def test_trimmed_values_keep_their_quotes_escaped(after):
    content = lines(HEADER, '" a""b "," ""Ruby"" ",1,1,2018-12-14', *after)

    handed, error = drain(content)

    assert error == (f"line 3: total 'x' {NOT_TOTAL}" if after else None)
    assert handed == lines(HEADER, '"a""b","""Ruby""",1,1,2018-12-14')


def test_chunks_without_blanks_stay_on_the_fast_path(small_chunks):
    rows = [GOOD if n % 7 else GOOD.replace("bob", "bob ") for n in range(40)]
    content = lines(HEADER, *rows)
    stream = ValidatedCsv(io.BytesIO(content))

    chunks = list(iter(stream.read, b""))[1:]  # after the header

    handed = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert (stream.error, handed) == (None, [GOOD.split(",")] * 40)
    unchanged = [chunk for chunk in chunks if chunk in content]
    assert 0 < len(unchanged) < len(chunks)  # clean chunks as they came, the others trimmed


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (" ,Ruby,1,1,2018-12-14", "line 3: customer ' ' is empty"),
        ('bob,"\t",1,1,2018-12-14', "line 3: item '\\t' is empty"),
        ("bob,Ruby, 12,1,2018-12-14", f"line 3: total ' 12' {NOT_TOTAL}"),
        ("bob,Ruby,12,1 ,2018-12-14", f"line 3: quantity '1 ' {NOT_QUANTITY}"),
        ("bob,Ruby,12,1, 2018-12-14", f"line 3: date ' 2018-12-14' {NOT_DATE}"),
    ],
)
def test_numbers_and_dates_keep_their_strict_rules(row, error):
    assert error_of(lines(HEADER, GOOD, row)) == error


# Refused with the real cause, in one short sentence.


@pytest.mark.parametrize(
    "content",
    [
        b"customer,item,total,quantity,date\rbob,Ruby,1,1,2018-12-14 08:29:52\r",
        b"customer,item,total,quantity,date\rbob,Ruby,1,1,2018-12-14 08:29:52",
        b"\xef\xbb\xbfcustomer,item,total,quantity,date\rbob,Ruby,1,1,2018-12-14\r\n",
        # The header is what comes before the first CR: blanks in it, and more rows after it.
        b"Customer, Item, Total, Quantity, Date\rbob,Ruby,1,1,2018-12-14\ramy,Opal,2,1,2018\n",
    ],
    ids=[
        "CR only",
        "CR only, no final break",
        "BOM, CR, then a final CRLF",
        "a header with blanks, two rows, a final LF",
    ],
)
def test_cr_only_line_breaks(content):
    assert error_of(content) == f"line 1: {CR_ONLY}"


def test_cr_only_file_longer_than_a_line_says_cr_only(small_chunks):
    content = (HEADER + "\r" + "bob,Ruby,1,1,2018-12-14 08:29:52\r" * 20).encode()

    assert error_of(content) == f"line 1: {CR_ONLY}"


def test_doubled_cr_in_the_header():
    assert error_of(lines(HEADER + "\r", GOOD + "\r")) == f"line 1: {DOUBLED_CR}"


def test_cr_only_after_a_separator_line():
    assert error_of(b"sep=,\r\ncustomer,item,total,quantity,date\rbob") == f"line 2: {CR_ONLY}"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (lines(HEADER, GOOD) + (GOOD + "\r").encode(), f"line 3: {LAST_CR}"),
        (lines(HEADER, GOOD, newline="\n") + (GOOD + "\r").encode(), f"line 3: {LAST_CR}"),
        ((HEADER + "\r").encode(), f"line 1: {LAST_CR}"),
        (b"cust\romer,item,total,quantity,date\r\n" + lines(GOOD), f"line 1: {CR_INSIDE}"),
        (b"customer,item,total,quantity,da\rte\n" + lines(GOOD), f"line 1: {CR_INSIDE}"),
        (lines(HEADER) + (GOOD[:9] + "\r" + GOOD[9:] + "\r").encode(), f"line 2: {CR_INSIDE}"),
    ],
    ids=[
        "CRLF file, the last LF missing",
        "LF file, the last line ends in CR",
        "a lone header ending in CR",
        "CR inside the header, CRLF file",
        "CR inside the header, LF file",
        "CR inside the last line and at its end",
    ],
)
def test_cr_that_is_no_line_break(content, error):
    assert error_of(content) == error


@pytest.mark.parametrize("second", ["sep=,", "SEP=,", "sep=;", "sep=,,"])
def test_second_separator_line_is_said_so(second):
    assert error_of(lines("sep=,", second, HEADER, GOOD)) == f"line 2: {SEPARATOR_LINE}"


@pytest.mark.parametrize(
    "repeated",
    [HEADER, "Customer, Item, Total, Quantity, Date", "date,total,customer,quantity,item"],
)
def test_repeated_header_line(repeated):
    content = lines(HEADER, GOOD, GOOD, repeated, GOOD)

    assert error_of(content) == f"line 4: {REPEATED_HEADER}"


# A byte-order mark belongs before the header only: after it, it is invisible and would make
# `\ufeffann` a customer other than `ann`.
BOM_AT_LINE_START = "starts with a byte-order mark (U+FEFF), likely from joining files; remove it"
BOM_IN_VALUE = "contains a byte-order mark (U+FEFF), an invisible character; remove it"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (  # `cat a.csv b.csv` of two Excel "CSV UTF-8" exports
            BOM + lines(HEADER, GOOD) + BOM + lines(HEADER, GOOD),
            f"line 3: {REPEATED_HEADER}",
        ),
        (
            BOM + lines(HEADER, GOOD) + BOM + lines("Customer, Item, Total, Quantity, Date"),
            f"line 3: {REPEATED_HEADER}",
        ),
        (
            BOM + lines("sep=,", HEADER, GOOD) + BOM + lines("sep=,", HEADER, GOOD),
            f"line 4: {SEPARATOR_LINE}",
        ),
        (BOM + lines(HEADER, GOOD) + BOM + lines(GOOD), f"line 3: {BOM_AT_LINE_START}"),
        (lines(HEADER, GOOD) + BOM + lines(GOOD), f"line 3: {BOM_AT_LINE_START}"),
        (lines(HEADER) + BOM + GOOD.encode(), f"line 2: {BOM_AT_LINE_START}"),  # the last line
        (lines(HEADER) + BOM + lines('"bob",Ruby,1,1,2018-12-14'), f"line 2: {BOM_AT_LINE_START}"),
        (lines(HEADER) + BOM + lines(",,,,"), f"line 2: {BOM_AT_LINE_START}"),
        (  # inside a value: refused too, naming it
            lines(HEADER, "bob,\ufeffRuby,1,1,2018-12-14"),
            f"line 2: item '\\ufeffRuby' {BOM_IN_VALUE}",
        ),
        (
            lines(HEADER, '" \ufeffbob",Ruby,1,1,2018-12-14'),
            f"line 2: customer ' \\ufeffbob' {BOM_IN_VALUE}",
        ),
        (
            lines(HEADER, "bob,Ru\ufeffby ,1,1,2018-12-14"),
            f"line 2: item 'Ru\\ufeffby ' {BOM_IN_VALUE}",
        ),
        (
            lines(HEADER, "bob,Ruby,\ufeff1,1,2018-12-14"),
            f"line 2: total '\\ufeff1' {BOM_IN_VALUE}",
        ),
        (  # in the header, a name with it is not a column's
            lines("customer,\ufeffitem,total,quantity,date"),
            f"line 1: header misses item; has unknown '\\ufeffitem' {EXPECTED}",
        ),
    ],
)
def test_byte_order_mark_after_the_header(content, error):
    assert error_of(content) == error


def test_text_of_other_three_byte_characters_stays_on_the_fast_path(explained):
    # Fullwidth letters start with the byte-order mark's first byte, EF, and are text.
    content = lines(HEADER, *["\uff32\uff55\uff42\uff59,Opal\ufefe,1,1,2018-12-14"] * 3)

    assert drain(content) == (content, None)
    assert explained == []


def test_byte_order_mark_in_a_later_chunk_is_found(small_chunks):
    content = lines(HEADER, *[GOOD] * 30) + BOM + lines(GOOD)

    handed, error = drain(content)

    assert (handed, error) == (lines(HEADER, *[GOOD] * 30), f"line 32: {BOM_AT_LINE_START}")
