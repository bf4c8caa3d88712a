"""The HTTP edge: the DRF views (`views.py`) and their URLs (`urls.py`), the index of `/` and
`/api/` (`index.py`), the serializers and the OpenAPI schema (`serializers.py`, `schema.py`),
the upload token (`permissions.py`), the JSON renderer (`renderers.py`), the content
negotiation (`negotiation.py`), the upload's two body parsers with its size limit
(`parsers.py`: the multipart field `deals`, a `text/csv` body, chunked bodies), the one
exception handler that turns every error into `{"Status": "Error", "Desc": ...}`
(`exception_handler.py`) and the same shape for Django-level errors (`http_errors.py`).

Nothing here decides what a valid file is or touches the tables: views call `deals.services`
(writes) and `deals.selectors` (reads), and errors come as `deals.errors.DealsError`. Imports
point down only (api -> services, selectors, and the leaves errors, failures and money); no
other module of `deals` imports `deals.api` (`project/` wires it in).
"""
