"""What the OpenAPI schema says beyond what drf-spectacular reads from the views.

The views use plain APIView (no serializer_class to guess from), and answer errors from the
single exception handler, so their requests, responses and status codes are declared here
and attached with @extend_schema in deals/api/views.py.
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_serializer,
    inline_serializer,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation

from deals.api.exception_handler import DATABASE_UNAVAILABLE, INTERNAL_ERROR
from deals.api.parsers import MAX_PARTS


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    Status = serializers.ChoiceField(choices=["Error"])
    Desc = serializers.CharField(help_text="What is wrong; for a bad file, the line and the value.")


ERRORS = {
    400: "Not a valid deals file (`Desc` names the line, column and value), the `deals` field "
    f"missing or sent twice, a malformed multipart body or one of over {MAX_PARTS} parts, no "
    "body at all, or a body that broke off (shorter than its `Content-Length`, not valid "
    "chunked coding, or no byte for `DEALS_BODY_READ_TIMEOUT` seconds). Nothing was changed.",
    401: "`DEALS_UPLOAD_TOKEN` is set on the server and the request has no valid "
    "`Authorization: Token <value>` header.",
    411: "A chunked body (no `Content-Length`) on a server that does not de-chunk it "
    "(gunicorn, the image's server, does).",
    413: "The upload is larger than `DEALS_MAX_UPLOAD_MB`; refused while it streams in.",
    415: "The body is neither `multipart/form-data` nor `text/csv` (a range such as `*/*` "
    "neither), is sent with a `Content-Encoding` (gzip, ...) or a `Transfer-Encoding` other "
    "than chunked, declares a charset other than UTF-8, or has `Content-Type` parameters that "
    "cannot be parsed; `Desc` says what to send.",
    500: f"Unexpected error: `{INTERNAL_ERROR} (id <hex>)`, the id also in the server's log.",
    503: f"The database cannot be reached: `{DATABASE_UNAVAILABLE}`.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERRORS[status]) for status in statuses
    }


class ExactAmountFieldExtension(OpenApiSerializerFieldExtension):
    """Sums of money are JSON numbers (exact decimals), not the strings DRF would document."""

    target_class = "deals.api.serializers.ExactAmountField"

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "number", "description": "Exact sum: `451731`, or `10.75` with cents."}


class SingleFileFieldExtension(OpenApiSerializerFieldExtension):
    """The upload's one file: a binary multipart part (spectacular would say a URI)."""

    target_class = "deals.api.serializers.SingleFileField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "string",
            "format": "binary",
            "description": "The deals CSV: columns `customer,item,total,quantity,date` in any "
            "order, UTF-8. Exactly one file.",
        }


UPLOAD_DESCRIPTION = (
    "Each successful upload replaces all previous deals and refreshes the report, in one "
    "transaction; a failed upload changes nothing and says what is wrong and where. The file "
    "comes as the multipart field `deals`, or as the whole body with `Content-Type: text/csv` "
    "(its name, for the upload history, from `Content-Disposition: attachment; filename=...`)."
)

CSV_BODY = {
    "type": "string",
    "format": "binary",
    "description": "The deals CSV as the whole body, UTF-8 (`charset=utf-8` or none), not "
    "compressed; may be sent chunked.",
}

REPORT_DESCRIPTION = (
    "Read from a precomputed materialized view, refreshed by each upload. During an upload "
    "the previous report is served until the upload commits."
)


def upload_response(result: type[serializers.Serializer]) -> OpenApiResponse:
    return OpenApiResponse(
        result, description="All deals replaced; `rows` deals loaded, recorded as `upload_id`."
    )


def health_response(status: type[serializers.Serializer]) -> OpenApiResponse:
    return OpenApiResponse(status, description='The database answers: `{"status": "ok"}`.')


UPLOAD_EXAMPLES = [
    OpenApiExample(
        "Uploaded",
        value={"Status": "OK", "upload_id": 1, "rows": 767},
        response_only=True,
        status_codes=[200],
    ),
    OpenApiExample(
        "Invalid file",
        value={
            "Status": "Error",
            "Desc": "line 2: total 'abc' is not a non-negative number with at most 2 decimals",
        },
        response_only=True,
        status_codes=[400],
    ),
]

REPORT_EXAMPLES = [
    OpenApiExample(
        "Report",
        value={
            "response": [
                {"username": "resplendent", "spent_money": 451731, "gems": ["Рубин", "Сапфир"]},
                {"username": "bellwether", "spent_money": 217794.5, "gems": ["Сапфир"]},
            ]
        },
        response_only=True,
        status_codes=[200],
    ),
]

REPORT_HEADERS = [
    OpenApiParameter(
        "If-None-Match",
        str,
        OpenApiParameter.HEADER,
        description="The `ETag` of a report read earlier: `304` while the report is unchanged.",
    ),
    OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        description="A hash of the report served; changes whenever the report does.",
    ),
    OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        enum=["no-cache"],
        description="Always `no-cache`: a cache revalidates with `If-None-Match`.",
    ),
]


def report_response(customer: type[serializers.Serializer]) -> OpenApiResponse:
    body = inline_serializer("TopCustomersReport", fields={"response": customer(many=True)})
    return OpenApiResponse(
        body,
        description="The five customers who spent the most, `spent_money` descending, ties by "
        "`username`; `gems`: the items each bought that another of the five bought too.",
    )


NOT_MODIFIED = OpenApiResponse(description="Not modified: the `If-None-Match` ETag is current.")


INDEX_DESCRIPTION = (
    "Served at `/` and `/api/`, public. Each link's `url` is absolute, built from the host "
    "the request named; its `GET` (and `POST`) says what that method does there."
)


def index_response(index: type[serializers.Serializer]) -> OpenApiResponse:
    return OpenApiResponse(index, description="The service's parts, with their URLs.")


class SchemaApi(SpectacularAPIView):
    """The OpenAPI schema: YAML, or JSON by `?format=json` or `Accept`.

    The API has one version: a `?version=` parameter, which drf-spectacular would write into the
    schema's `info.version` and the Content-Disposition header (a control character there broke
    the answer), is ignored like any unknown parameter.
    """

    # The API's own negotiation answers JSON only; a document in two formats needs DRF's.
    content_negotiation_class = DefaultContentNegotiation

    def _get_version_parameter(self, request):
        return None
