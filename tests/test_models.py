import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.api.renderers import ExactJSONRenderer
from deals.api.views import TopCustomersApi
from deals.models import CustomerTotal, Deal, TopCustomer, TopCustomersJson, view_sql
from deals.services import reports_refresh
from tests.conftest import examples

pytestmark = pytest.mark.django_db

WHEN = datetime(2018, 12, 14, 8, 29, 52, tzinfo=UTC)


def test_migrate_creates_the_materialized_views_with_unique_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes"
            " WHERE tablename = ANY(%s) AND indexdef LIKE 'CREATE UNIQUE INDEX%%'"
            " ORDER BY tablename",
            [[view._meta.db_table for view in (CustomerTotal, TopCustomer, TopCustomersJson)]],
        )
        indexes = cursor.fetchall()
        cursor.execute("SELECT matviewname FROM pg_matviews ORDER BY matviewname")
        views = [name for (name,) in cursor.fetchall()]

    assert views == ["deals_customer_totals", "deals_top_customers", "deals_top_customers_json"]
    assert [(table, definition.split(" USING ")[1]) for table, definition in indexes] == [
        ("deals_customer_totals", "btree (username)"),
        ("deals_top_customers", "btree (rank)"),
        ("deals_top_customers_json", "btree (etag)"),
    ]


def test_migrations_describe_the_models():
    # makemigrations --check exits with status 1 when a model changed without its migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_view_sql_reads_the_tables_the_models_name():
    assert f"FROM {Deal._meta.db_table}\n" in view_sql("customer_totals")
    assert f"FROM {CustomerTotal._meta.db_table}\n" in view_sql("top_customers")
    assert f"FROM {TopCustomer._meta.db_table}\n" in view_sql("top_customers_json")


def test_view_models_are_read_only():
    with pytest.raises(NotImplementedError):
        TopCustomer.objects.create(rank=1, username="x", spent_money=1, gems=[])


def test_deal_table_refuses_what_the_file_check_refuses():
    with pytest.raises(IntegrityError, match="deal_quantity_positive"):
        Deal.objects.create(customer="a", item="b", total=1, quantity=0, date="2018-12-14T00:00Z")


# Characters a JSON encoder must escape or may leave alone: quotes, backslashes, control
# characters, DEL, line and paragraph separators, Cyrillic, astral emoji. NUL cannot be stored
# in PostgreSQL text, nor a lone surrogate in UTF-8.
AWKWARD = ['"', "\\", "/", "'", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t", " "]
AWKWARD += ["\u2028", "\u2029", "Ё", "ж", "é", "😀", "\ufeff", ",", "{", "]"]
CHARACTERS = st.sampled_from(AWKWARD) | st.characters(
    exclude_categories=["Cs"], exclude_characters="\x00"
)
NAMES = st.text(CHARACTERS, min_size=1, max_size=8)
CENTS = st.sampled_from([0, 1, 10, 50, 100, 1050, 45173100]) | st.integers(0, 10**14)


@st.composite
def deal_rows(draw) -> list[tuple[str, str, int]]:
    """(customer, item, cents) from small pools, so that the top five share gems."""
    customers = draw(st.lists(NAMES, min_size=1, max_size=8, unique=True))
    items = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    row = st.tuples(st.sampled_from(customers), st.sampled_from(items), CENTS)
    return draw(st.lists(row, max_size=30))


def python_rendering(rows) -> bytes:
    """The body as the API rendered it in Python: its serializer and JSON renderer."""
    data = {"response": TopCustomersApi.OutputSerializer(rows, many=True).data}
    return ExactJSONRenderer().render(data)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=deal_rows())
def test_rendered_report_is_what_python_renders_of_the_top_view(rows):
    Deal.objects.all().delete()
    Deal.objects.bulk_create(
        Deal(customer=customer, item=item, total=Decimal(cents) / 100, quantity=1, date=WHEN)
        for customer, item, cents in rows
    )
    reports_refresh()
    top = TopCustomer.objects.order_by("rank").values("username", "spent_money", "gems")

    [(body, etag)] = TopCustomersJson.objects.values_list("body", "etag")

    assert body.encode() == python_rendering(top)
    assert etag == f'"{hashlib.sha256(body.encode()).hexdigest()}"'


def test_rendered_report_without_deals():
    [body] = TopCustomersJson.objects.values_list("body", flat=True)

    assert body == '{"response": []}'
    assert body.encode() == python_rendering([])


def test_test_database_does_not_sort_by_code_point_by_default():
    """The ordering tests guard the columns' "C" collation only on such a database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datlocprovider, daticulocale FROM pg_database"
            " WHERE datname = current_database()"
        )
        locale = cursor.fetchone()
        cursor.execute(
            "SELECT array_agg(name ORDER BY name) FROM unnest(%s::text[]) AS name", [["я", "ё"]]
        )
        default_order = cursor.fetchone()[0]

    assert locale == ("i", "en-US")
    assert default_order == ["ё", "я"]
