"""The report of any valid deals file equals what a small pure-Python model says it should be.

The files are written the ways exporters write them: any column order, header names in any
letter case with blanks around them, blanks around text values (which never make two customers
or two gems of one), LF or CRLF, a BOM or not, Excel's `sep=,` line or not, empty lines at the
end or not, dates with or without a time.
"""

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from deals.models import Deal
from tests.conftest import examples, get_report, post_csv

pytestmark = pytest.mark.django_db

COLUMNS = ("customer", "item", "total", "quantity", "date")
# Cyrillic, Latin, quotes, commas and spaces; no line breaks or NUL (not valid in a value).
NAME_ALPHABET = "абвгдЁёжЯяabcXYZ019 ,\"'\\;-_.µ"  # noqa: RUF001 - Cyrillic on purpose
DATES = ["2018-12-14 08:29:52.506166", "2018-12-14T08:29:52", "2019-01-01 00:00:00Z"]
DATES += ["2020-02-29 23:59:59.5+03:00", "1999-12-31T12:00:00-0530", "2024-06-01 10:00:00+03"]
DATES += ["2018-12-14", "2024-02-29"]
BLANKS = st.text(" \t", max_size=3)  # around text values and header names: never meaningful


@dataclass(frozen=True)
class DealRow:
    customer: str
    item: str
    cents: int
    quantity: int
    date: str


def names(pool_size: int) -> st.SearchStrategy[list[str]]:
    """A small pool of names, so that customers repeat and items are shared. Names have no
    blanks at either end: blanks written around them in the file are not part of them."""
    name = st.text(NAME_ALPHABET, min_size=1, max_size=6).map(str.strip).filter(bool)
    return st.lists(name, min_size=1, max_size=pool_size, unique=True)


@st.composite
def deal_rows(draw) -> list[DealRow]:
    customers, items = draw(names(9)), draw(names(6))
    # Few distinct amounts make ties in spent money common.
    cents = st.one_of(st.sampled_from([0, 100, 250, 99_999]), st.integers(0, 10**14))
    row = st.builds(
        DealRow,
        customer=st.sampled_from(customers),
        item=st.sampled_from(items),
        cents=cents,
        quantity=st.integers(1, 2**31 - 1),
        date=st.sampled_from(DATES),
    )
    return draw(st.lists(row, max_size=200))


@st.composite
def total_text(draw, cents: int) -> str:
    """A total written with 0, 1 or 2 decimals, whichever can write it exactly."""
    units, fraction = divmod(cents, 100)
    forms = [f"{units}.{fraction:02d}"]
    if fraction % 10 == 0:
        forms.append(f"{units}.{fraction // 10}")
    if fraction == 0:
        forms.append(str(units))
    return draw(st.sampled_from(forms))


@st.composite
def field_text(draw, value: str) -> str:
    """A text value as a file may write it: blanks around it, quoted when it must be or not."""
    padded = draw(BLANKS) + value + draw(BLANKS)
    if any(char in value for char in ',"') or draw(st.booleans()):
        return '"' + padded.replace('"', '""') + '"'
    return padded


@st.composite
def header_name(draw, column: str) -> str:
    cased = "".join(draw(st.sampled_from([char.lower(), char.upper()])) for char in column)
    return draw(BLANKS) + cased + draw(BLANKS)


@st.composite
def deals_files(draw, rows: list[DealRow]) -> bytes:
    """The rows as a deals file: any column order, header names in any case with blanks, LF or
    CRLF, BOM or not, `sep=,` or not, final break or not, empty lines at the end or not."""
    columns = draw(st.permutations(COLUMNS))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(draw(header_name(column)) for column in columns)]
    for row in rows:
        fields = {
            "customer": draw(field_text(row.customer)),
            "item": draw(field_text(row.item)),
            "total": draw(total_text(row.cents)),
            "quantity": str(row.quantity),
            "date": row.date,
        }
        lines.append(",".join(fields[column] for column in columns))
    ending = draw(
        st.sampled_from(["", newline, newline * 3, newline + " \t" + newline, newline + " "])
    )
    separator = draw(st.sampled_from(["", "sep=," + newline]))
    text = separator + newline.join(lines) + ending
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + text.encode("utf-8")


@st.composite
def deals_cases(draw) -> tuple[list[DealRow], bytes]:
    rows = draw(deal_rows())
    return rows, draw(deals_files(rows))


def model_report(rows: list[DealRow]) -> dict:
    """The top-5 report computed the slow, obvious way."""
    spent: dict[str, Decimal] = defaultdict(Decimal)
    bought: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        spent[row.customer] += Decimal(row.cents) / 100
        bought[row.customer].add(row.item)
    top = sorted(spent, key=lambda customer: (-spent[customer], customer))[:5]
    buyers = Counter(item for customer in top for item in bought[customer])
    return {
        "response": [
            {
                "username": customer,
                "spent_money": spent[customer],
                "gems": sorted(item for item in bought[customer] if buyers[item] > 1),
            }
            for customer in top
        ]
    }


def served_report(client: APIClient) -> dict:
    response = get_report(client)
    assert response.status_code == HTTPStatus.OK
    # Decimal keeps the served numbers exact; an integral sum must come as an integer literal.
    report = json.loads(response.content, parse_float=Decimal)
    for row in report["response"]:
        if isinstance(row["spent_money"], Decimal):
            assert row["spent_money"] != row["spent_money"].to_integral_value(), row
    return report


def upload(client: APIClient, content: bytes, rows: list[DealRow]) -> None:
    response = post_csv(client, content)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["rows"] == len(rows)


# The profile of tests/conftest.py, with fewer examples: each one is one to four uploads.
UPLOADS = settings(max_examples=examples(40))


def test_hypothesis_runs_under_a_named_profile_deterministic_by_default():
    profile = settings.get_profile("deals")

    assert settings.get_current_profile_name() == os.environ.get("HYPOTHESIS_PROFILE", "deals")
    assert (profile.derandomize, profile.print_blob, profile.deadline) == (True, True, None)
    assert settings.get_profile("explore").derandomize is False


@UPLOADS
@given(case=deals_cases())
def test_report_equals_the_model(case):
    rows, content = case
    client = APIClient()
    upload(client, content, rows)
    assert served_report(client) == model_report(rows)
    assert Deal.objects.count() == len(rows)


@UPLOADS
@given(first=deals_cases(), second=deals_cases())
def test_uploads_replace_and_never_accumulate(first, second):
    (rows_a, file_a), (rows_b, file_b) = first, second
    client = APIClient()
    for content, rows in [(file_a, rows_a), (file_a, rows_a)]:
        upload(client, content, rows)
    assert served_report(client) == model_report(rows_a)
    for content, rows in [(file_b, rows_b), (file_a, rows_a)]:
        upload(client, content, rows)
    assert served_report(client) == model_report(rows_a)
    assert Deal.objects.count() == len(rows_a)
