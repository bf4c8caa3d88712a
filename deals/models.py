from datetime import UTC, datetime
from pathlib import Path

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.text import Truncator
from django_pgviews import view as pg

from deals.ingest.format import MAX_TEXT_LENGTH
from deals.money import exact_amount

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def view_sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


# Titles (the admin's pages, breadcrumbs) cut names here: a name can fill a 1 MiB line.
TITLE_CHARS = 60


def _short(name: str) -> str:
    return Truncator(name).chars(TITLE_CHARS)


FIRST_MOMENT = datetime(1, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _at_most_characters(column: str) -> models.Q:
    """At most MAX_TEXT_LENGTH characters. The byte length is known without reading the value
    and bounds the character count, so only a long value is counted (1M rows: +10 ms of COPY,
    against +90 ms for counting every value)."""
    octets = models.Func(column, function="OCTET_LENGTH", output_field=models.IntegerField())
    return models.Q(LessThanOrEqual(octets, MAX_TEXT_LENGTH)) | models.Q(
        LessThanOrEqual(Length(column), MAX_TEXT_LENGTH)
    )


class Deal(models.Model):
    """One line of the current deals file; the whole table is replaced by each upload."""

    # "C" collation: names group and sort by code point, the same on every server.
    customer = models.TextField(db_collation="C")
    item = models.TextField(db_collation="C")
    total = models.DecimalField(max_digits=15, decimal_places=2)
    quantity = models.IntegerField()
    date = models.DateTimeField()

    class Meta:
        db_table = "deals_deal"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="deal_total_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="deal_quantity_positive"
            ),
            # An offset can move a valid local time out of the years Python can read back
            # (9999-12-31 23:59-12 is year 10000 in UTC).
            models.CheckConstraint(
                condition=models.Q(date__gte=FIRST_MOMENT, date__lte=LAST_MOMENT),
                name="deal_date_in_python_range",
            ),
            # A longer value would break the btree limit of the report views' indexes when
            # they are refreshed; refused here, it is "line N: customer is longer than ...".
            models.CheckConstraint(
                condition=_at_most_characters("customer"), name="deal_customer_length"
            ),
            models.CheckConstraint(condition=_at_most_characters("item"), name="deal_item_length"),
        ]

    def __str__(self) -> str:
        amount = exact_amount(self.total)
        return f"{_short(self.customer)}: {_short(self.item)} x {self.quantity} = {amount}"


class Upload(models.Model):
    """One upload attempt, kept whether it succeeded or not."""

    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        ERROR = "error"

    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(null=True)
    sha256 = models.CharField(max_length=64, blank=True)
    rows = models.BigIntegerField(null=True)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)
    # The PostgreSQL backend that runs the upload: when it is gone and the row still says
    # running, the process was killed (the next upload marks such rows as interrupted).
    backend_pid = models.IntegerField(null=True, editable=False)

    class Meta:
        db_table = "deals_upload"
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"upload {self.pk} {_short(self.filename)} ({self.status})"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class CustomerTotal(pg.ReadOnlyMaterializedView):
    """Per customer: money spent and the distinct items bought (refreshed by each upload)."""

    sql = view_sql("customer_totals")
    concurrent_index = "username"

    username = models.TextField(primary_key=True, db_collation="C")
    spent_money = models.DecimalField(max_digits=30, decimal_places=2)
    deals = models.BigIntegerField()
    gems = ArrayField(models.TextField(db_collation="C"))

    class Meta:
        managed = False
        db_table = "deals_customer_totals"

    def __str__(self) -> str:
        return _short(self.username)


class TopCustomer(pg.ReadOnlyMaterializedView):
    """The five customers who spent the most, each with the gems shared with the others."""

    sql = view_sql("top_customers")
    concurrent_index = "rank"
    dependencies = ["deals.CustomerTotal"]

    rank = models.IntegerField(primary_key=True)
    username = models.TextField(db_collation="C")
    spent_money = models.DecimalField(max_digits=30, decimal_places=2)
    gems = ArrayField(models.TextField(db_collation="C"))

    class Meta:
        managed = False
        db_table = "deals_top_customers"
        ordering = ["rank"]

    def __str__(self) -> str:
        return f"#{self.rank} {_short(self.username)}"


class TopCustomersJson(pg.ReadOnlyMaterializedView):
    """The answer of GET /api/deals/ as served: its JSON body and ETag (one row, refreshed by
    each upload after the top view, so that a request does no rendering)."""

    sql = view_sql("top_customers_json")
    # The only row's ETag: unique, so the view refreshes CONCURRENTLY and readers switch
    # to the new answer exactly when the upload commits.
    concurrent_index = "etag"
    dependencies = ["deals.TopCustomer"]

    etag = models.TextField(primary_key=True)
    body = models.TextField()

    class Meta:
        managed = False
        db_table = "deals_top_customers_json"
        # No admin page (deals_top_customers shows the same report): nothing to permit.
        default_permissions = ()
