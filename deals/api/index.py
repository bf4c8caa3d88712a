"""What `/` and `/api/` list: each part of the service, and what each HTTP method does there."""

from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

# name in the index -> (URL name, {method: what it does}).
PARTS = {
    "deals": (
        "deals",
        {
            "GET": "the report: the top-5 customers by money spent and the gems they share",
            "POST": "replace all deals with a CSV file sent as multipart/form-data in the field "
            "'deals', or as a text/csv body (columns customer,item,total,quantity,date)",
        },
    ),
    "docs": ("docs", {"GET": "Swagger UI: read and try the API in a browser"}),
    "schema": ("schema", {"GET": "the OpenAPI 3 schema, YAML (?format=json for JSON)"}),
    "health": (
        "health",
        {"GET": '{"status": "ok"} when the service and its database answer, 503 when not'},
    ),
    "admin": (
        "admin:index",
        {"GET": "the read-only admin: report, customers, deals, upload history (staff sign-in)"},
    ),
}


def index(request: HttpRequest) -> dict[str, dict[str, str]]:
    """{name: {"url": absolute URL on the host the client asked, method: what it does, ...}}."""
    return {
        name: {"url": request.build_absolute_uri(reverse(url_name)), **methods}
        for name, (url_name, methods) in PARTS.items()
    }


@extend_schema_serializer(component_name="Link")
class LinkSerializer(serializers.Serializer):
    url = serializers.URLField()
    GET = serializers.CharField(help_text="What a GET of `url` gives.")


@extend_schema_serializer(component_name="DealsLink")
class DealsLinkSerializer(LinkSerializer):
    POST = serializers.CharField(help_text="What a POST to `url` does.")
