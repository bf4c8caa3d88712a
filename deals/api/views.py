"""HTTP API: one small view per operation; the work is in services and selectors.

Methods name their own class's serializers (not self.X) so that the two operations can
share the /api/deals/ URL through DealsApi without picking up each other's serializers.
"""

from django.db import connection
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from deals.api import schema as docs
from deals.api.index import DealsLinkSerializer, LinkSerializer, index
from deals.api.parsers import (
    CsvBodyParser,
    DealsMultiPartParser,
    body_reads_bounded,
    unparsed_upload,
)
from deals.api.permissions import UploadTokenAuthentication, UploadTokenRequired
from deals.api.serializers import ExactAmountField, SingleFileField
from deals.selectors import top_customers_report
from deals.services import deals_replace_from_csv

JSON_UTF8 = "application/json; charset=utf-8"


class DealUploadApi(APIView):
    parser_classes = [DealsMultiPartParser, CsvBodyParser]
    # Both check POST only: DealsApi inherits them for GET too, which must stay open.
    authentication_classes = [UploadTokenAuthentication]
    permission_classes = [UploadTokenRequired]

    @extend_schema_serializer(component_name="DealsUpload")
    class InputSerializer(serializers.Serializer):
        deals = SingleFileField()

    @extend_schema_serializer(component_name="UploadResult")
    class OutputSerializer(serializers.Serializer):
        Status = serializers.CharField()
        upload_id = serializers.IntegerField()
        rows = serializers.IntegerField()

    @extend_schema(
        operation_id="deals_upload",
        summary="Replace all deals with a CSV file",
        description=docs.UPLOAD_DESCRIPTION,
        request={"multipart/form-data": InputSerializer, "text/csv": docs.CSV_BODY},
        responses={200: docs.upload_response(OutputSerializer)}
        | docs.error_responses(400, 401, 411, 413, 415, 500, 503),
        examples=docs.UPLOAD_EXAMPLES,
    )
    def post(self, request):
        # The body is read in here, by the parsers and (text/csv) by the upload's COPY.
        with body_reads_bounded(request):
            unparsed = unparsed_upload(request)
            received = request.data if unparsed is None else unparsed
            serializer = DealUploadApi.InputSerializer(data=received)
            serializer.is_valid(raise_exception=True)
            file = serializer.validated_data["deals"]
            upload = deals_replace_from_csv(file=file, filename=file.name)
        result = {"Status": "OK", "upload_id": upload.pk, "rows": upload.rows}
        return Response(DealUploadApi.OutputSerializer(result).data)


class TopCustomersApi(APIView):
    """The report, as PostgreSQL rendered it at the last upload's refresh: one read, no
    serializer, renderer or JSON encoding per request.

    A public read of precomputed bytes needs none of DRF's per-request policies
    (authentication, permissions, throttling, content negotiation; each measured in
    bench/RESULTS.md): `initial` skips them. An error still answers JSON through the
    exception handler (finalize_response negotiates then).
    """

    # Documents the answer in the OpenAPI schema; the bytes come from the database.
    @extend_schema_serializer(component_name="TopCustomer")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        spent_money = ExactAmountField()
        gems = serializers.ListField(child=serializers.CharField())

    def initial(self, request, *args, **kwargs):
        """Runs no per-request policy: the read is public and has one representation."""

    @extend_schema(
        operation_id="deals_top_customers",
        summary="The top-5 customers and the gems they share",
        description=docs.REPORT_DESCRIPTION,
        auth=[],
        parameters=docs.REPORT_HEADERS,
        responses={200: docs.report_response(OutputSerializer), 304: docs.NOT_MODIFIED}
        | docs.error_responses(500, 503),
        examples=docs.REPORT_EXAMPLES,
    )
    def get(self, request):
        report = top_customers_report()
        headers = {"ETag": report.etag, "Cache-Control": "no-cache"}
        if _not_modified(request.META.get("HTTP_IF_NONE_MATCH", ""), report.etag):
            return HttpResponseNotModified(headers=headers)
        return HttpResponse(report.body, content_type=JSON_UTF8, headers=headers)


class HealthApi(APIView):
    name = "Health"  # OPTIONS answers it (DRF would make "Health Api" of the class name)

    @extend_schema_serializer(component_name="Health")
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()

    @extend_schema(
        operation_id="health",
        summary="Whether the service and its database answer",
        responses={200: docs.health_response(OutputSerializer)} | docs.error_responses(500, 503),
    )
    def get(self, request):
        # An unreachable database raises OperationalError: the exception handler answers 503.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response(self.OutputSerializer({"status": "ok"}).data)


def _not_modified(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, and "*" matches any current report."""
    tags = parse_etags(if_none_match)
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


class ApiIndexApi(APIView):
    """`/` and `/api/`: links to every part of the service, with what each method does."""

    name = "Index"  # where DRF names a view; DRF would make "Api Index Api" of the class name
    authentication_classes = []
    http_method_names = ["get", "head"]

    @extend_schema_serializer(component_name="ApiIndex")
    class OutputSerializer(serializers.Serializer):
        deals = DealsLinkSerializer(help_text="Upload (POST) and report (GET).")
        docs = LinkSerializer(help_text="The API docs (Swagger UI).")
        schema = LinkSerializer(help_text="The OpenAPI schema.")
        health = LinkSerializer(help_text="The health check.")
        admin = LinkSerializer(help_text="The read-only admin.")

    @extend_schema(
        operation_id="index",
        tags=["index"],
        summary="Links to every part of the service",
        description=docs.INDEX_DESCRIPTION,
        auth=[],
        responses={200: docs.index_response(OutputSerializer)},
    )
    def get(self, request):
        return Response(ApiIndexApi.OutputSerializer(index(request)).data)
