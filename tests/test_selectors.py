import hashlib
import io
import json

import pytest

from deals.selectors import (
    data_view_permissions,
    items_bought,
    table_row_estimate,
    top_customers_report,
)
from deals.services import deals_replace_from_csv
from tests.conftest import csv_bytes, get_report, post_csv

pytestmark = pytest.mark.django_db

HEADER = "customer,item,total,quantity,date"
WHEN = "2018-12-14 08:29:52"


def deal(customer: str, item: str, total: str) -> str:
    return f"{customer},{item},{total},1,{WHEN}"


def report_of(client, *rows: str) -> list[dict]:
    post_csv(client, csv_bytes(HEADER, *rows))
    return get_report(client).json()["response"]


def test_ties_are_broken_by_username_code_point(api_client):
    rows = [deal(name, "Opal", "100") for name in ("b", "Ärger", "a", "Zed", "B", "c")]

    report = report_of(api_client, *rows)

    assert [row["username"] for row in report] == ["B", "Zed", "a", "b", "c"]


def test_fewer_than_five_customers(api_client):
    report = report_of(api_client, deal("anna", "Opal", "5"), deal("bob", "Opal", "7"))

    assert report == [
        {"username": "bob", "spent_money": 7, "gems": ["Opal"]},
        {"username": "anna", "spent_money": 5, "gems": ["Opal"]},
    ]


def test_sums_are_exact(api_client):
    rows = [deal("anna", "Opal", "0.1"), deal("anna", "Opal", "0.2")]
    rows += [deal("bob", "Ruby", "999999999999.99")] * 10
    rows += [deal("carl", "Ruby", "10.50"), deal("dora", "Ruby", "0")]

    report = report_of(api_client, *rows)

    assert [(row["username"], row["spent_money"]) for row in report] == [
        ("bob", 9999999999999.9),
        ("carl", 10.5),
        ("anna", 0.3),
        ("dora", 0),
    ]


def test_sums_beyond_float_precision_are_exact(api_client):
    rows = [deal("anna", "Opal", "999999999999.99")] * 1000 + [deal("anna", "Opal", "0.01")]

    post_csv(api_client, csv_bytes(HEADER, *rows))
    body = get_report(api_client).content

    assert b'"spent_money": 999999999999990.01,' in body


def test_gems_are_those_shared_within_the_top_five(api_client):
    rows = [
        deal("a", "Ruby", "600"),
        deal("a", "Opal", "1"),
        deal("a", "Jade", "1"),
        deal("b", "Ruby", "500"),
        deal("c", "Opal", "400"),
        deal("d", "Topaz", "300"),
        deal("e", "Topaz", "200"),
        deal("e", "Topaz", "1"),
        deal("f", "Jade", "100"),  # sixth: sharing Jade with a does not count
    ]

    report = report_of(api_client, *rows)

    assert report == [
        {"username": "a", "spent_money": 602, "gems": ["Opal", "Ruby"]},
        {"username": "b", "spent_money": 500, "gems": ["Ruby"]},
        {"username": "c", "spent_money": 400, "gems": ["Opal"]},
        {"username": "d", "spent_money": 300, "gems": ["Topaz"]},
        {"username": "e", "spent_money": 201, "gems": ["Topaz"]},
    ]


def test_gems_are_sorted_by_code_point(api_client):
    items = ["опал", "Опал", "opal", "Opal", "Ёж"]
    rows = [deal(customer, item, "1") for customer in ("a", "b") for item in items]

    report = report_of(api_client, *rows)

    assert report[0]["gems"] == ["Opal", "opal", "Ёж", "Опал", "опал"]


def test_quantity_does_not_multiply_the_total(api_client):
    report = report_of(api_client, "anna,Opal,100,5,2018-12-14 08:29:52")

    assert report == [{"username": "anna", "spent_money": 100, "gems": []}]


def test_selector_reads_the_rendered_report(deals_csv, expected_report):
    deals_replace_from_csv(file=io.BytesIO(deals_csv), filename="deals.csv")

    report = top_customers_report()

    assert json.loads(report.body) == expected_report
    assert report.etag == f'"{hashlib.sha256(report.body.encode()).hexdigest()}"'


def test_selector_reads_the_empty_report():
    report = top_customers_report()

    empty = b'{"response": []}'
    assert report.body.encode() == empty
    assert report.etag == f'"{hashlib.sha256(empty).hexdigest()}"'


def test_items_bought_are_distinct_and_by_code_point():
    items = ["опал", "Опал", "opal", "Opal", "Ёж"]
    rows = [deal(customer, item, "1") for customer in ("a", "b", "c") for item in items]
    deals_replace_from_csv(file=io.BytesIO(csv_bytes(HEADER, *rows)), filename="deals.csv")

    assert items_bought() == ["Opal", "opal", "Ёж", "Опал", "опал"]


def test_items_bought_without_deals():
    assert items_bought() == []


def test_row_estimate_is_exact_after_an_upload(deals_csv):
    deals_replace_from_csv(file=io.BytesIO(deals_csv), filename="deals.csv")
    assert table_row_estimate("deals_deal") == 767


def test_data_view_permissions_are_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        pages = sorted(
            (permission.content_type.model, permission.codename)
            for permission in data_view_permissions()
        )

    assert pages == [
        ("customertotal", "view_customertotal"),
        ("deal", "view_deal"),
        ("topcustomer", "view_topcustomer"),
        ("upload", "view_upload"),
    ]
