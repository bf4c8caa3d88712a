"""Reads. The report is precomputed by the materialized views; reading it is one query.

The API, the admin and the management commands read through here, never the models directly.
"""

import functools
from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Func, QuerySet, TextField

from deals.models import CustomerTotal, TopCustomer, TopCustomersJson


@dataclass(frozen=True)
class RenderedReport:
    """The answer of GET /api/deals/: the JSON `body` as served and its quoted `etag`."""

    body: str
    etag: str


def top_customers_report() -> RenderedReport:
    """The top-5 report of the last successful upload, rendered by PostgreSQL at the refresh.

    One query reading the view's one row; the body is the exact response, the ETag a hash
    of it.
    """
    statement, params = _report_query()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        [(body, etag)] = cursor.fetchall()
    return RenderedReport(body=body, etag=etag)


@functools.cache
def _report_query() -> tuple[str, tuple]:
    """The ORM's SQL for the report, compiled once per process.

    Building and compiling a queryset costs more per request than the database round trip
    itself (about 75-130 µs against 30 µs, bench/RESULTS.md), on the hottest path there is.
    """
    return TopCustomersJson.objects.values_list("body", "etag").query.sql_with_params()


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
    """The planner's row count of `table` (pg_class.reltuples): -1 for a table never counted.

    Every upload rebuilds the deals table's primary key, which counts its rows there: for it
    the estimate is exact after each upload (-1 when the upload was empty).
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
