"""Speed regression guards that stay fast: ratios measured inside the test, never absolute
times, and query counts that must not grow with the data. The full figures are in
bench/RESULTS.md (python bench/run.py)."""

import time
from http import HTTPStatus
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import datagen
from deals.services import deals_replace_from_csv
from tests.conftest import URL, get_report, post_csv

pytestmark = pytest.mark.django_db

ROWS = 100_000
CUSTOMERS = 50
# The service validates every line, rebuilds the key, analyzes and refreshes both report
# views; bench/RESULTS.md has it at about 2x a bare COPY, and 4.1x was seen once on a
# machine loaded by other test runs. 6x absorbs that noise and still catches a per-row
# Python step (10x) or an ORM insert (30x).
MAX_RATIO = 6.0
TRIES = 3  # the fastest of three: a neighbour's burst of CPU does not fail the test

COPY_TABLE = """CREATE TEMPORARY TABLE IF NOT EXISTS copy_reference (
    customer text COLLATE "C", item text COLLATE "C", total numeric(15, 2),
    quantity integer, date timestamptz)"""
COPY_REFERENCE = (
    "COPY copy_reference (customer, item, total, quantity, date)"
    " FROM STDIN WITH (FORMAT csv, HEADER true)"
)


@pytest.fixture(scope="module")
def large_csv(tmp_path_factory) -> Path:
    """100,000 realistic deals (CRLF, 50 customers), written by the benchmark's generator."""
    directory = tmp_path_factory.mktemp("performance")
    return datagen.generate(datagen.file_path(directory, ROWS, CUSTOMERS), ROWS, CUSTOMERS)


def copy_seconds(path: Path) -> float:
    """A bare COPY of the file into a typed table, on the same connection as the service."""
    with connection.cursor() as cursor, path.open("rb") as file:
        cursor.execute(COPY_TABLE)
        cursor.execute("TRUNCATE copy_reference")
        started = time.perf_counter()
        cursor.copy_expert(COPY_REFERENCE, file)
        return time.perf_counter() - started


def upload_seconds(path: Path) -> float:
    with path.open("rb") as file:
        started = time.perf_counter()
        upload = deals_replace_from_csv(file=file, filename=path.name)
        elapsed = time.perf_counter() - started
    assert upload.rows == ROWS
    return elapsed


def upload_queries(path: Path) -> int:
    with CaptureQueriesContext(connection) as queries, path.open("rb") as file:
        deals_replace_from_csv(file=file, filename=path.name)
    return len(queries)


def test_upload_stays_within_a_multiple_of_copy(large_csv):
    copy = min(copy_seconds(large_csv) for _ in range(TRIES))
    upload = min(upload_seconds(large_csv) for _ in range(TRIES))

    assert upload / copy < MAX_RATIO, f"upload {upload:.3f} s, bare COPY {copy:.3f} s"


def test_upload_queries_do_not_grow_with_rows(tmp_path):
    small = datagen.generate(datagen.file_path(tmp_path, 1_000, CUSTOMERS), 1_000, CUSTOMERS)
    larger = datagen.generate(datagen.file_path(tmp_path, 5_000, CUSTOMERS), 5_000, CUSTOMERS)

    assert upload_queries(small) == upload_queries(larger)


def test_revalidation_is_one_query(api_client, deals_csv, django_assert_num_queries):
    assert post_csv(api_client, deals_csv).status_code == HTTPStatus.OK
    etag = get_report(api_client)["ETag"]

    with django_assert_num_queries(1):
        response = api_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == HTTPStatus.NOT_MODIFIED
    assert response.content == b""
