"""Reads. The report is precomputed by the materialized views; reading it is one query.

The API, the admin and the management commands read through here, never the models directly.
"""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Func, QuerySet, TextField

from deals.models import CustomerTotal, TopCustomer


@dataclass(frozen=True)
class TopCustomersReport:
    rows: list[dict]
    etag: str


def top_customers() -> TopCustomersReport:
    """The five best customers, best first, from the last successful upload."""
    rows = list(TopCustomer.objects.order_by("rank").values("username", "spent_money", "gems"))
    return TopCustomersReport(rows=rows, etag=_etag(rows))


def _etag(rows: list[dict]) -> str:
    # Derived from exactly what is served, so it changes whenever the report does and a
    # client's cached copy is valid exactly as long as the ETag matches.
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        digest.update(repr((row["username"], _canonical(row["spent_money"]), row["gems"])).encode())
    return f'"{digest.hexdigest()}"'


def _canonical(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def items_bought() -> list[str]:
    """Every distinct item of the current deals, by code point.

    Read from the per-customer totals view (one row per customer), not by DISTINCT over
    every deal.
    """
    gems = CustomerTotal.objects.annotate(
        gem=Func("gems", function="unnest", output_field=TextField())
    )
    return list(gems.values_list("gem", flat=True).order_by("gem").distinct())


def table_row_estimate(table: str) -> int:
    """The planner's row count of `table` (pg_class.reltuples): -1 for a table never analyzed.

    Every upload ANALYZEs the deals table, so for it the estimate is as fresh as the data.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


def data_view_permissions() -> QuerySet[Permission]:
    """The permissions that mean something in the admin: "Can view" each data page.

    The data pages are read-only for everyone and users are for superusers alone, so no other
    permission changes what a staff user can do.
    """
    app_label = TopCustomer._meta.app_label
    return Permission.objects.filter(
        content_type__app_label=app_label, codename__startswith="view_"
    ).select_related("content_type")
