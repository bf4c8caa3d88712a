from django.urls import path

from deals.api.views import ApiIndexApi, DealUploadApi, HealthApi, TopCustomersApi

READ_METHODS = frozenset({"GET", "HEAD"})


class DealsApi(DealUploadApi, TopCustomersApi):
    """GET: the top-5 customers by money spent and the gems they share. POST: replace all deals
    with a CSV file (the multipart field `deals`, or a text/csv body)."""

    # What OPTIONS answers as `name` (DRF would make "Deals Api" of the class name).
    name = "Deals"
    # Public: OPTIONS answers this docstring as the description. GET and POST share one URL;
    # each keeps its own view class, serializers and policies. APIView dispatches by method
    # name, so the two parents combine without overlap.
    http_method_names = ["get", "post", "head", "options"]

    def initial(self, request, *args, **kwargs):
        # The per-request policies of the class that serves the method: the upload's token
        # check for POST (and any other method), none for the public read.
        serving = TopCustomersApi if request.method in READ_METHODS else DealUploadApi
        serving.initial(self, request, *args, **kwargs)


urlpatterns = [
    path("deals/", DealsApi.as_view(), name="deals"),
    # Without the slash too: a redirect would make clients that follow it drop the upload's
    # body. Left out of the schema, which documents the canonical URL only.
    path("deals", DealsApi.as_view(schema=None)),
    path("health/", HealthApi.as_view(), name="health"),
    path("", ApiIndexApi.as_view(), name="index"),
]
