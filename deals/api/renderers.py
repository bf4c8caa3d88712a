import simplejson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class ExactJSONRenderer(JSONRenderer):
    """JSON with Decimal written as an exact number literal (the stdlib would go through float)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return simplejson.dumps(
            data, use_decimal=True, ensure_ascii=False, default=JSONEncoder().default
        ).encode()
