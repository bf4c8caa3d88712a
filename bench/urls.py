"""The product's URLs plus the constant view (benchmark only, never in project/urls.py)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from project import urls as product

# The canonical report (examples/deals.expected.json): the same body GET serves, so
# the ceiling differs from the real view only by the work done to compute the answer.
CONSTANT_REPORT = {
    "response": [
        {"username": "resplendent", "spent_money": 451731, "gems": ["Рубин", "Сапфир", "Танзанит"]},
        {"username": "bellwether", "spent_money": 217794, "gems": ["Петерсит", "Сапфир"]},
        {"username": "uvulaperfly117", "spent_money": 120419, "gems": ["Петерсит", "Танзанит"]},
        {"username": "braggadocio", "spent_money": 108957, "gems": ["Изумруд"]},
        {"username": "turophile", "spent_money": 100132, "gems": ["Изумруд", "Рубин"]},
    ]
}


class ConstantApi(APIView):
    """A DRF view with the product's settings (renderer, handlers) that returns a constant."""

    def get(self, request):
        return Response(CONSTANT_REPORT)


urlpatterns = [path("bench/constant/", ConstantApi.as_view()), *product.urlpatterns]
handler400 = product.handler400
handler403 = product.handler403
handler404 = product.handler404
handler500 = product.handler500
