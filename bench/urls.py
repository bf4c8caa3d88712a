"""The product's URLs plus the reference views of the GET benchmark (never in project/urls.py).

Each returns the canonical report's bytes (examples/deals.expected.json) with the headers the
product sends, so that it differs from `GET /api/deals/` only by the work done per request:

- constant-django: a plain Django view, no database: the ceiling of any Django view;
- one-read: a plain Django view that first reads, with a raw cursor, the row GET reads
  (body and ETag of the rendered report view): the floor of any design that asks PostgreSQL
  once per request. (One row of deals_top_customers, `ORDER BY rank LIMIT 1`, costs
  PostgreSQL more: planning an ordered read, the gems array.)
- constant: a DRF APIView with the product's settings (policies, renderer) that renders a
  constant dict: what DRF itself costs.
"""

import hashlib
import json
from pathlib import Path

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from psycopg2 import sql
from rest_framework.response import Response
from rest_framework.views import APIView

from deals.models import TopCustomersJson
from project import urls as product

EXPECTED = Path(__file__).resolve().parent.parent / "examples" / "deals.expected.json"
CANONICAL_BODY = EXPECTED.read_bytes().rstrip(b"\n")
CANONICAL_REPORT = json.loads(CANONICAL_BODY)
HEADERS = {
    "ETag": f'"{hashlib.sha256(CANONICAL_BODY).hexdigest()}"',
    "Cache-Control": "no-cache",
}
# Passed to the cursor as composed: psycopg2 quotes the identifier when it sends the query.
ONE_ROW = sql.SQL("SELECT body, etag FROM {}").format(
    sql.Identifier(TopCustomersJson._meta.db_table)
)


def constant_django(request):
    return HttpResponse(
        CANONICAL_BODY, content_type="application/json; charset=utf-8", headers=HEADERS
    )


def one_read(request):
    with connection.cursor() as cursor:
        cursor.execute(ONE_ROW)
        cursor.fetchone()
    return HttpResponse(
        CANONICAL_BODY, content_type="application/json; charset=utf-8", headers=HEADERS
    )


class ConstantApi(APIView):
    """A DRF view with the product's settings (renderer, handlers) that returns a constant."""

    def get(self, request):
        return Response(CANONICAL_REPORT, headers=HEADERS)


urlpatterns = [
    path("bench/constant-django/", constant_django),
    path("bench/one-read/", one_read),
    path("bench/constant/", ConstantApi.as_view()),
    *product.urlpatterns,
]
handler400 = product.handler400
handler403 = product.handler403
handler404 = product.handler404
handler500 = product.handler500
