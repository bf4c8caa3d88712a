"""Reads. The report is precomputed by the materialized views; reading it is one query."""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from deals.models import TopCustomer


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
