import io
import json
import re
from http import HTTPStatus

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.validation import validate_schema

from deals.api.exception_handler import DATABASE_UNAVAILABLE, INTERNAL_ERROR
from tests.conftest import get_report, post_csv

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/"
DOCS_URL = "/api/docs/"
ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == HTTPStatus.OK
    return json.loads(response.content)


def operation(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]


def json_body(response: dict) -> dict:
    return response["content"]["application/json"]["schema"]


def assert_matches(schema: dict, component: str, body) -> None:
    """Validate a real answer against the documented component, $refs resolved in place."""
    jsonschema.validate(body, {"$ref": f"#/components/schemas/{component}"} | schema)


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)

    assert schema["openapi"] == "3.0.3"
    assert schema["info"]["title"] == "deals-csv API"


def test_schema_default_format_is_yaml(api_client, schema):
    response = api_client.get(SCHEMA_URL)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert yaml.safe_load(response.content) == schema


def test_schema_json_content_type(api_client):
    response = api_client.get(SCHEMA_URL, {"format": "json"})

    assert response["Content-Type"] == "application/vnd.oai.openapi+json"


def test_schema_documents_every_operation(schema):
    operations = {
        (path, method, item["operationId"]): sorted(item["responses"])
        for path, methods in schema["paths"].items()
        for method, item in methods.items()
    }

    assert operations == {
        ("/api/deals/", "post", "deals_upload"): [
            "200",
            "400",
            "401",
            "411",
            "413",
            "415",
            "500",
            "503",
        ],
        ("/api/deals/", "get", "deals_top_customers"): ["200", "304", "500", "503"],
        ("/api/health/", "get", "health"): ["200", "500", "503"],
        ("/api/", "get", "index"): ["200"],
    }


def test_upload_request_is_one_multipart_file_or_a_csv_body(schema):
    body = operation(schema, "/api/deals/", "post")["requestBody"]

    assert body == {
        "content": {
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/DealsUpload"}},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "The deals CSV as the whole body, UTF-8 (`charset=utf-8` or "
                    "none), not compressed; may be sent chunked.",
                }
            },
        }
    }
    upload = schema["components"]["schemas"]["DealsUpload"]
    assert upload["required"] == ["deals"]
    assert upload["properties"]["deals"]["type"] == "string"
    assert upload["properties"]["deals"]["format"] == "binary"
    assert list(upload["properties"]) == ["deals"]


def test_upload_responses(schema):
    responses = operation(schema, "/api/deals/", "post")["responses"]

    assert json_body(responses["200"]) == {"$ref": "#/components/schemas/UploadResult"}
    assert {code: json_body(responses[code]) for code in responses if code != "200"} == {
        code: ERROR for code in ["400", "401", "411", "413", "415", "500", "503"]
    }
    assert INTERNAL_ERROR in responses["500"]["description"]
    assert DATABASE_UNAVAILABLE in responses["503"]["description"]


def test_upload_token_is_documented(schema):
    assert {"uploadToken": []} in operation(schema, "/api/deals/", "post")["security"]
    assert schema["components"]["securitySchemes"]["uploadToken"]["in"] == "header"


def test_report_responses(schema):
    report = operation(schema, "/api/deals/", "get")
    responses = report["responses"]

    assert "security" not in report
    assert json_body(responses["200"]) == {"$ref": "#/components/schemas/TopCustomersReport"}
    assert "content" not in responses["304"]
    assert json_body(responses["500"]) == json_body(responses["503"]) == ERROR
    for code in ["200", "304"]:
        assert sorted(responses[code]["headers"]) == ["Cache-Control", "ETag"]
    assert [(p["in"], p["name"]) for p in report["parameters"]] == [("header", "If-None-Match")]


def test_report_components(schema):
    components = schema["components"]["schemas"]

    assert components["TopCustomersReport"] == {
        "type": "object",
        "properties": {
            "response": {"type": "array", "items": {"$ref": "#/components/schemas/TopCustomer"}}
        },
        "required": ["response"],
    }
    customer = components["TopCustomer"]
    assert customer["required"] == ["gems", "spent_money", "username"]
    assert customer["properties"]["username"] == {"type": "string"}
    assert customer["properties"]["spent_money"]["type"] == "number"
    assert customer["properties"]["gems"] == {"type": "array", "items": {"type": "string"}}


def test_health_responses(schema):
    responses = operation(schema, "/api/health/", "get")["responses"]

    assert json_body(responses["200"]) == {"$ref": "#/components/schemas/Health"}
    assert json_body(responses["500"]) == json_body(responses["503"]) == ERROR


def test_index_response(schema):
    index = operation(schema, "/api/", "get")
    components = schema["components"]["schemas"]

    assert "security" not in index
    assert json_body(index["responses"]["200"]) == {"$ref": "#/components/schemas/ApiIndex"}
    assert components["ApiIndex"]["required"] == ["admin", "deals", "docs", "health", "schema"]
    assert components["DealsLink"]["required"] == ["GET", "POST", "url"]
    assert components["Link"]["required"] == ["GET", "url"]


def test_error_component(schema):
    components = schema["components"]["schemas"]

    assert components["Error"]["required"] == ["Desc", "Status"]
    assert components["Error"]["properties"]["Desc"]["type"] == "string"
    assert components["StatusEnum"]["enum"] == ["Error"]


def test_real_answers_match_the_schema(api_client, schema, deals_csv):
    uploaded = post_csv(api_client, deals_csv)
    report = get_report(api_client)
    refused = post_csv(api_client, b"customer,item\r\n")
    health = api_client.get("/api/health/")
    index = api_client.get("/api/")

    assert_matches(schema, "UploadResult", uploaded.json())
    assert_matches(schema, "TopCustomersReport", report.json())
    assert len(report.json()["response"]) == 5
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert_matches(schema, "Error", refused.json())
    assert_matches(schema, "Health", health.json())
    assert_matches(schema, "ApiIndex", index.json())


def test_documented_shape_refuses_a_string_amount(schema):
    body = {"response": [{"username": "anna", "spent_money": "10.75", "gems": []}]}

    with pytest.raises(
        jsonschema.ValidationError, match=re.escape("'10.75' is not of type 'number'")
    ):
        assert_matches(schema, "TopCustomersReport", body)


def test_docs_page_uses_local_assets_only(api_client):
    response = api_client.get(DOCS_URL)
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert not re.search(r"https?://|//cdn", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    ]
    assert '"/api/schema/"' in html


@pytest.mark.parametrize("method", ["options", "post", "put", "delete"])
def test_docs_page_refuses_other_methods(api_client, method):
    response = getattr(api_client, method)(DOCS_URL)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.content == b"405 Method Not Allowed"


def test_docs_assets_are_served(api_client):
    html = api_client.get(DOCS_URL).content.decode()

    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        response = api_client.get(asset)
        assert response.status_code == HTTPStatus.OK, asset
        b"".join(response.streaming_content)  # close the file whitenoise opened


def test_spectacular_command_validates_without_warnings(tmp_path, schema):
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "schema.json"

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format=openapi-json",
        f"--file={target}",
        stdout=out,
        stderr=err,
    )

    assert err.getvalue() == ""
    assert json.loads(target.read_text(encoding="utf-8")) == schema


@pytest.mark.parametrize("version", ["\x00", "\x01", "\n", "2.0", "x" * 300])
def test_schema_ignores_a_version_parameter(api_client, schema, version):
    # The API has one version; spectacular would put this one into a header and the schema.
    response = api_client.get(SCHEMA_URL, {"format": "json", "version": version})

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'inline; filename="deals-csv API.json"'
    assert json.loads(response.content) == schema
