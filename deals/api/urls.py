from django.urls import path

from deals.api.views import ApiIndexApi, DealUploadApi, HealthApi, TopCustomersApi


class DealsApi(DealUploadApi, TopCustomersApi):
    """GET and POST share one URL; each keeps its own view class and serializers."""

    # APIView dispatches by method name, so the two parents combine without overlap.
    http_method_names = ["get", "post", "head", "options"]


urlpatterns = [
    path("deals/", DealsApi.as_view(), name="deals"),
    # Without the slash too: a redirect would make clients that follow it drop the upload's
    # body. Left out of the schema, which documents the canonical URL only.
    path("deals", DealsApi.as_view(schema=None)),
    path("health/", HealthApi.as_view(), name="health"),
    path("", ApiIndexApi.as_view(), name="index"),
]
