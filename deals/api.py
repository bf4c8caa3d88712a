"""HTTP API: one small view per operation; the work is in services and selectors.

Methods name their own class's serializers (not self.X) so that the two operations can
share the /api/deals/ URL through DealsApi without picking up each other's serializers.
"""

from http import HTTPStatus

from django.db import connection
from django.utils.http import parse_etags
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from deals.selectors import top_customers
from deals.serializers import ExactAmountField, SingleFileField
from deals.services import deals_replace_from_csv


class DealUploadApi(APIView):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        deals = SingleFileField()

    class OutputSerializer(serializers.Serializer):
        Status = serializers.CharField()
        upload_id = serializers.IntegerField()
        rows = serializers.IntegerField()

    def post(self, request):
        serializer = DealUploadApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        file = serializer.validated_data["deals"]
        upload = deals_replace_from_csv(file=file, filename=file.name)
        result = {"Status": "OK", "upload_id": upload.pk, "rows": upload.rows}
        return Response(DealUploadApi.OutputSerializer(result).data)


class TopCustomersApi(APIView):
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        spent_money = ExactAmountField()
        gems = serializers.ListField(child=serializers.CharField())

    def get(self, request):
        report = top_customers()
        headers = {"ETag": report.etag, "Cache-Control": "no-cache"}
        if report.etag in parse_etags(request.headers.get("If-None-Match", "")):
            return Response(status=HTTPStatus.NOT_MODIFIED, headers=headers)
        body = {"response": TopCustomersApi.OutputSerializer(report.rows, many=True).data}
        return Response(body, headers=headers)


class HealthApi(APIView):
    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()

    def get(self, request):
        # An unreachable database raises OperationalError: the exception handler answers 503.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response(self.OutputSerializer({"status": "ok"}).data)
