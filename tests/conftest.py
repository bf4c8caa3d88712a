import json
from pathlib import Path

import psycopg2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from deals.services import STARTUP_LOCK_KEY

# The canonical sample the repository ships (examples/): 767 deals, CRLF, and its exact report.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
URL = "/api/deals/"


@pytest.fixture
def deals_csv() -> bytes:
    """The canonical deals file (767 deals, CRLF line endings)."""
    return (EXAMPLES / "deals.csv").read_bytes()


@pytest.fixture
def expected_report() -> dict:
    return json.loads((EXAMPLES / "deals.expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def post_csv(client: APIClient, content: bytes, name: str = "deals.csv"):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(URL, {"deals": upload}, format="multipart")


def get_report(client: APIClient):
    return client.get(URL)


def csv_bytes(*lines: str, newline: str = "\r\n") -> bytes:
    return "".join(line + newline for line in lines).encode("utf-8")


@pytest.fixture
def other_session(db):
    """A second session on the test database, as another container would have (autocommit)."""
    params = connection.settings_dict
    session = psycopg2.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"],
    )
    session.autocommit = True
    yield session
    session.close()


def startup_lock_free(session) -> bool:
    """Whether `session` could take the start-up lock now (it lets go of it at once)."""
    with session.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [STARTUP_LOCK_KEY])
        (taken,) = cursor.fetchone()
        if taken:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [STARTUP_LOCK_KEY])
    return taken
