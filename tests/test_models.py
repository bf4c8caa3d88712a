import pytest
from django.db import IntegrityError, connection

from deals.models import CustomerTotal, Deal, TopCustomer, view_sql

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_materialized_views_with_unique_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes"
            " WHERE tablename = ANY(%s) AND indexdef LIKE 'CREATE UNIQUE INDEX%%'"
            " ORDER BY tablename",
            [[CustomerTotal._meta.db_table, TopCustomer._meta.db_table]],
        )
        indexes = cursor.fetchall()
        cursor.execute("SELECT matviewname FROM pg_matviews ORDER BY matviewname")
        views = [name for (name,) in cursor.fetchall()]

    assert views == ["deals_customer_totals", "deals_top_customers"]
    assert [(table, definition.split(" USING ")[1]) for table, definition in indexes] == [
        ("deals_customer_totals", "btree (username)"),
        ("deals_top_customers", "btree (rank)"),
    ]


def test_view_sql_reads_the_tables_the_models_name():
    assert f"FROM {Deal._meta.db_table}\n" in view_sql("customer_totals")
    assert f"FROM {CustomerTotal._meta.db_table}\n" in view_sql("top_customers")


def test_view_models_are_read_only():
    with pytest.raises(NotImplementedError):
        TopCustomer.objects.create(rank=1, username="x", spent_money=1, gems=[])


def test_deal_table_refuses_what_the_file_check_refuses():
    with pytest.raises(IntegrityError, match="deal_quantity_positive"):
        Deal.objects.create(customer="a", item="b", total=1, quantity=0, date="2018-12-14T00:00Z")
