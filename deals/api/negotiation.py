"""Content negotiation for the JSON API: one representation out, exact media types in.

- Answers are the view's first renderer (JSON), whatever `Accept` or `?format=` ask for: the
  API has one representation, so a client asking for another gets it anyway (RFC 9110 lets a
  server disregard Accept) rather than a 406, and a `format` query parameter, which DRF would
  read as a renderer's name (404 for an unknown one), is an ordinary parameter like any other.
- A request body is read by the parser of exactly its media type: a Content-Type names what
  the body is, never a range, so `*/*` or `text/*` are no format at all (415), where DRF would
  let them match the first parser.

The schema view (project/urls.py) keeps DRF's negotiation: it serves YAML and JSON.
"""

from rest_framework.negotiation import BaseContentNegotiation


class JsonApiNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        media_type = request.content_type.split(";")[0].strip().lower()
        return next((parser for parser in parsers if parser.media_type == media_type), None)

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
