import os

from django.core.handlers.wsgi import WSGIRequest
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")


class TolerantContentTypeRequest(WSGIRequest):
    """A request whose Content-Type parameters Django cannot read is still answered.

    Django reads them while it builds the request, before any middleware or view can answer:
    an RFC 2231 value in an unknown charset (`charset*=x-unknown''%FF`) raises ValueError, and
    `charset*=` beside `charset*0=` a TypeError in the email package, which the WSGI server
    answers with its bare 500. Here such a request has no parameters: the view decides, and the
    upload's parsers read the raw header themselves (415 for either).
    """

    def _set_content_type_params(self, meta):
        try:
            super()._set_content_type_params(meta)
        except (ValueError, TypeError):
            self.content_type = meta.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
            self.content_params = {}


application = get_wsgi_application()
application.request_class = TolerantContentTypeRequest
