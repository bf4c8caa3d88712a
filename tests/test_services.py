import hashlib
import io
import threading

import psycopg2
import pytest
from django.db import OperationalError, connection, connections

from deals.errors import DATABASE_UNAVAILABLE, DatabaseUnavailable, InternalError
from deals.ingest.format import CsvError
from deals.models import CustomerTotal, Deal, TopCustomer, Upload
from deals.services import (
    INTERRUPTED,
    deals_replace_from_csv,
    reports_refresh,
    startup_serialized,
)
from tests.conftest import csv_bytes, startup_lock_free

HEADER = "customer,item,total,quantity,date"


def replace(content: bytes, filename: str = "deals.csv") -> Upload:
    return replace_file(io.BytesIO(content), filename)


def replace_file(file, filename: str = "deals.csv") -> Upload:
    return deals_replace_from_csv(file=file, filename=filename)


@pytest.mark.django_db
def test_successful_upload_is_recorded(deals_csv):
    upload = replace(deals_csv)

    upload.refresh_from_db()
    assert (upload.status, upload.rows, upload.size, upload.error) == ("ok", 767, 46952, "")
    assert upload.sha256 == hashlib.sha256(deals_csv).hexdigest()
    assert upload.finished_at >= upload.started_at
    assert upload.filename == "deals.csv"


@pytest.mark.django_db
def test_deals_are_stored_exactly(deals_csv):
    replace(deals_csv)

    first = Deal.objects.order_by("id").values("customer", "item", "total", "quantity").first()
    assert first == {"customer": "bellwether", "item": "Цаворит", "total": 612, "quantity": 6}
    assert str(Deal.objects.order_by("id").first().date) == "2018-12-14 08:29:52.506166+00:00"


@pytest.mark.django_db
def test_deals_are_loaded_frozen_so_no_vacuum_pass_follows(deals_csv):
    replace(deals_csv)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpages, relallvisible FROM pg_class WHERE oid = %s::regclass",
            [Deal._meta.db_table],
        )
        pages, all_visible = cursor.fetchone()
    assert pages > 0
    assert all_visible == pages


@pytest.mark.django_db
def test_dates_with_offsets_are_stored_in_utc():
    replace(
        csv_bytes(HEADER, "a,Opal,1,1,2018-12-14T08:29:52+03:00", "b,Opal,1,1,2018-12-14 08:29:52Z")
    )

    dates = [str(date) for date in Deal.objects.order_by("customer").values_list("date", flat=True)]
    assert dates == ["2018-12-14 05:29:52+00:00", "2018-12-14 08:29:52+00:00"]


@pytest.mark.django_db
def test_database_error_before_a_format_error_is_reported_first():
    content = csv_bytes(
        HEADER,
        "a,Opal,1,1,2018-02-30 00:00:00",
        "a,Opal,1,1,2018-12-14 08:29:52",
        "a,Opal,x,1,2018",
    )

    with pytest.raises(CsvError, match=r"^line 2: date '2018-02-30 00:00:00' is not a valid date"):
        replace(content)


@pytest.mark.django_db
def test_format_error_before_a_database_error_is_reported_first():
    content = csv_bytes(HEADER, "a,Opal,x,1,2018-12-14 08:29:52", "a,Opal,1,1,2018-02-30 00:00:00")

    with pytest.raises(CsvError, match=r"^line 2: total 'x' is not"):
        replace(content)


@pytest.mark.django_db
def test_quantity_beyond_integer_range():
    content = csv_bytes(HEADER, "a,Opal,1,2147483648,2018-12-14 08:29:52")

    with pytest.raises(CsvError) as error:
        replace(content)

    assert (
        error.value.message == "line 2: quantity '2147483648' is out of range (at most 2147483647)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("date", ["9999-12-31 23:59:59-12", "0001-01-01 00:00:00+05"])
def test_dates_outside_the_years_python_reads_back(date):
    with pytest.raises(CsvError) as error:
        replace(csv_bytes(HEADER, "a,Opal,1,1,2018-12-14 08:29:52", f"b,Opal,1,1,{date}"))

    assert error.value.message == "line 3: date is out of range (years 0001 to 9999 in UTC)"


@pytest.mark.django_db
def test_unreadable_file_is_an_internal_error_not_the_databases(caplog):
    class Failing(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 0:
                raise OSError("disk gone")
            return super().read(40)

    with pytest.raises(InternalError) as error:
        replace_file(Failing(csv_bytes(HEADER, *["a,Opal,1,1,2018-12-14 08:29:52"] * 10)))

    incident = error.value.incident
    assert error.value.message == f"internal error (id {incident}); the upload changed nothing"
    assert repr(error.value.__cause__) == "OSError('disk gone')"
    upload = Upload.objects.get()
    assert (upload.status, upload.error) == (Upload.Status.ERROR, error.value.message)
    (logged,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert (
        logged.getMessage()
        == f"internal error {incident} in upload {upload.pk}: OSError: disk gone"
    )
    assert logged.exc_info[1] is error.value.__cause__  # the traceback is in the log line


@pytest.mark.django_db
def test_database_lost_during_the_refresh_is_the_database_unavailable(deals_csv, monkeypatch):
    replace(deals_csv)

    def lost(**kwargs):
        raise psycopg2.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(CustomerTotal, "refresh", lost)

    with pytest.raises(DatabaseUnavailable) as error:
        replace(csv_bytes(HEADER, "a,Opal,1,1,2018-12-14 08:29:52"), filename="lost.csv")

    assert isinstance(error.value.__cause__, OperationalError)
    failed = Upload.objects.latest("pk")
    assert (failed.filename, failed.status, failed.error) == (
        "lost.csv",
        Upload.Status.ERROR,
        DATABASE_UNAVAILABLE,
    )
    assert Deal.objects.count() == 767


@pytest.mark.django_db
def test_reports_refresh_recomputes_the_views(deals_csv, expected_report):
    replace(deals_csv)
    Deal.objects.filter(customer="resplendent").delete()

    reports_refresh()

    assert "resplendent" not in TopCustomer.objects.values_list("username", flat=True)
    assert not CustomerTotal.objects.filter(username="resplendent").exists()


@pytest.mark.django_db
def test_uploads_whose_session_is_gone_are_marked_interrupted(deals_csv):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (alive,) = cursor.fetchone()
    dead = Upload.objects.create(filename="killed.csv", backend_pid=2**31 - 1)
    waiting = Upload.objects.create(filename="waiting.csv", backend_pid=alive)

    replace(deals_csv)

    dead.refresh_from_db()
    waiting.refresh_from_db()
    assert (dead.status, dead.error) == (Upload.Status.ERROR, INTERRUPTED)
    assert dead.finished_at is not None
    assert waiting.status == Upload.Status.RUNNING


@pytest.mark.django_db
def test_startup_holds_its_lock_for_the_block_only(other_session):
    with startup_serialized():
        during = startup_lock_free(other_session)
    after = startup_lock_free(other_session)

    assert (during, after) == (False, True)


# Below: real transactions, seen from other connections, as gunicorn's threads see them.


@pytest.fixture
def committed(transactional_db, deals_csv, expected_report):
    """The canonical file, committed; the report views are emptied again afterwards
    (the test database flush truncates tables but not materialized views)."""
    replace(deals_csv)
    yield expected_report
    Deal.objects.all().delete()
    reports_refresh()


def test_failed_upload_is_recorded_outside_its_rolled_back_transaction(committed):
    with pytest.raises(CsvError):
        replace(csv_bytes(HEADER, "a,Opal,x,1,2018-12-14 08:29:52"), filename="bad.csv")

    seen = _from_another_connection(
        lambda: list(Upload.objects.order_by("id").values_list("filename", "status", "error"))
    )
    assert seen == [
        ("deals.csv", "ok", ""),
        (
            "bad.csv",
            "error",
            "line 2: total 'x' is not a non-negative number with at most 2 decimals",
        ),
    ]
    assert Deal.objects.count() == 767


def _from_another_connection(read):
    result = {}

    def run():
        try:
            result["value"] = read()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return result["value"]
