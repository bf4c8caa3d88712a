from http import HTTPStatus
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db

INDEX_PATHS = ["/", "/api/"]


def expected_index(origin: str) -> dict:
    return {
        "deals": {
            "url": f"{origin}/api/deals/",
            "GET": "the report: the top-5 customers by money spent and the gems they share",
            "POST": "replace all deals with a CSV file sent as multipart/form-data in the field "
            "'deals', or as a text/csv body (columns customer,item,total,quantity,date)",
        },
        "docs": {
            "url": f"{origin}/api/docs/",
            "GET": "Swagger UI: read and try the API in a browser",
        },
        "schema": {
            "url": f"{origin}/api/schema/",
            "GET": "the OpenAPI 3 schema, YAML (?format=json for JSON)",
        },
        "health": {
            "url": f"{origin}/api/health/",
            "GET": '{"status": "ok"} when the service and its database answer, 503 when not',
        },
        "admin": {
            "url": f"{origin}/admin/",
            "GET": "the read-only admin: report, customers, deals, upload history (staff sign-in)",
        },
    }


@pytest.mark.parametrize("path", INDEX_PATHS)
def test_index_links_every_part(api_client, path):
    response = api_client.get(path)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.json() == expected_index("http://testserver")


@pytest.mark.parametrize(
    ("host", "secure", "origin"),
    [("127.0.0.1:8000", False, "http://127.0.0.1:8000"), ("localhost", True, "https://localhost")],
)
def test_index_urls_are_on_the_host_and_scheme_asked(api_client, host, secure, origin):
    response = api_client.get("/api/", HTTP_HOST=host, secure=secure)

    assert response.json() == expected_index(origin)


def test_index_is_public_when_uploads_need_a_token(api_client, settings):
    settings.DEALS_UPLOAD_TOKEN = "s3cret-upload-token"

    response = api_client.get("/")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == expected_index("http://testserver")


@pytest.mark.parametrize("path", INDEX_PATHS)
def test_index_head_has_no_body(api_client, path):
    response = api_client.head(path)

    assert response.status_code == HTTPStatus.OK
    assert response.content == b""


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", INDEX_PATHS)
def test_index_refuses_other_methods(api_client, path, method):
    response = getattr(api_client, method)(path)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json() == {
        "Status": "Error",
        "Desc": f'Method "{method.upper()}" not allowed.',
    }


def test_every_link_answers(api_client):
    links = api_client.get("/").json()

    answers = {
        name: api_client.get(urlsplit(link["url"]).path).status_code for name, link in links.items()
    }

    # The admin sends an anonymous visitor to its login page.
    assert answers == {
        "deals": HTTPStatus.OK,
        "docs": HTTPStatus.OK,
        "schema": HTTPStatus.OK,
        "health": HTTPStatus.OK,
        "admin": HTTPStatus.FOUND,
    }
