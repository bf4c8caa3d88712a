from django.urls import path

from deals.api import DealUploadApi, HealthApi, TopCustomersApi


class DealsApi(DealUploadApi, TopCustomersApi):
    """GET and POST share one URL; each keeps its own view class and serializers."""

    # APIView dispatches by method name, so the two parents combine without overlap.
    http_method_names = ["get", "post", "head", "options"]


urlpatterns = [
    path("deals/", DealsApi.as_view(), name="deals"),
    path("health/", HealthApi.as_view(), name="health"),
]
