"""The RFC 4180 splitter that explains a bad line: values, bounds, quoting and the errors."""

import pytest

from deals.ingest.fields import STRAY_QUOTE, UNTERMINATED, FieldError, split_fields

COLUMNS = ("customer", "item", "total", "quantity", "date")


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        (b"", [b""]),
        (b"a", [b"a"]),
        (b"a,b,c", [b"a", b"b", b"c"]),
        (b",", [b"", b""]),
        (b"a,", [b"a", b""]),  # a line ending in a comma: one more, empty, field
        (b",a", [b"", b"a"]),
        (b"a,,b", [b"a", b"", b"b"]),
        (b",,", [b"", b"", b""]),
        (b" a , b ", [b" a ", b" b "]),  # blanks are kept: the value rules judge them
        (b"\t", [b"\t"]),
        (b"a\rb,c", [b"a\rb", b"c"]),  # the line rules refuse CR before splitting
    ],
)
def test_unquoted_values(content, fields):
    assert split_fields(content) == fields


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        (b'""', [b""]),
        (b'"a"', [b"a"]),
        (b'"a,b",c', [b"a,b", b"c"]),
        (b'"a""b"', [b'a"b']),  # "" is one quote
        (b'""""', [b'"']),
        (b'"""a"""', [b'"a"']),
        (b'"a""",b', [b'a"', b"b"]),
        (b'"a"",""b"', [b'a","b']),  # an escaped quote before a comma inside the value
        (b'" "', [b" "]),
        (b'"\t"', [b"\t"]),
        (b'"a\rb"', [b"a\rb"]),
        (b'"a\nb"', [b"a\nb"]),
        (b'x,""', [b"x", b""]),
        (b'"",x', [b"", b"x"]),
        (b',"a"', [b"", b"a"]),  # an empty unquoted value first: its comma is at 0
        (b'"a",', [b"a", b""]),
        ('"Ё""Я"'.encode(), ['Ё"Я'.encode()]),
    ],
)
def test_quoted_values(content, fields):
    assert split_fields(content) == fields


@pytest.mark.parametrize(
    ("content", "index", "problem"),
    [
        (b'"', 0, UNTERMINATED),
        (b'"abc', 0, UNTERMINATED),
        (b'"a""', 0, UNTERMINATED),  # the last quote is half of an escape, not the end
        (b'"a"""b', 0, "text after the closing quote"),
        (b'a,"b', 1, UNTERMINATED),
        (b'a,b,"c,d', 2, UNTERMINATED),
        (b'"a"b', 0, "text after the closing quote"),
        (b'"a" ,b', 0, "text after the closing quote"),
        (b'x,"a"b,c', 1, "text after the closing quote"),
        (b'a"b', 0, STRAY_QUOTE),
        (b'a"', 0, STRAY_QUOTE),
        (b'x,y,z,a"b', 3, STRAY_QUOTE),
        (b' "a"', 0, STRAY_QUOTE),  # a quote is special only as a value's first byte
        (b'a,b,c,d,e,f,"g', 6, UNTERMINATED),
    ],
)
def test_malformed_values_are_named_by_position(content, index, problem):
    with pytest.raises(FieldError) as error:
        split_fields(content)

    assert (error.value.index, error.value.problem, str(error.value)) == (index, problem, problem)


@pytest.mark.parametrize(
    ("columns", "index", "described"),
    [
        (COLUMNS, 0, f"customer: {UNTERMINATED}"),
        (COLUMNS, 4, f"date: {UNTERMINATED}"),
        (COLUMNS, 5, f"field 6: {UNTERMINATED}"),
        ((), 0, f"field 1: {UNTERMINATED}"),  # the header: no names yet
        ((), 2, f"field 3: {UNTERMINATED}"),
    ],
)
def test_error_names_the_column_or_the_field_number(columns, index, described):
    assert FieldError(index, UNTERMINATED).describe(columns) == described
