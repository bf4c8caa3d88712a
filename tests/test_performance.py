"""Speed regression guards that cannot depend on the machine's load: query counts that must not
grow with the data. Timings live in bench/: `bench/guard.py` (upload against a bare COPY) and
`bench/run.py` (the full figures in bench/RESULTS.md)."""

from http import HTTPStatus
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench import datagen
from deals.services import deals_replace_from_csv
from tests.conftest import URL, get_report, post_csv

pytestmark = pytest.mark.django_db

CUSTOMERS = 50


def upload_queries(path: Path) -> int:
    with CaptureQueriesContext(connection) as queries, path.open("rb") as file:
        deals_replace_from_csv(file=file, filename=path.name)
    return len(queries)


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
