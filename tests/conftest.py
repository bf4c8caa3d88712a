import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

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
