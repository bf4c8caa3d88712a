"""The HTTP edge: DRF views, their serializers and OpenAPI schema, the upload token, the JSON
renderer, the multipart size limit and the one exception handler that turns every error into
`{"Status": "Error", "Desc": ...}`. Nothing here decides what a valid file is or touches the
tables: views call `deals.services` (writes) and `deals.selectors` (reads), and errors come as
`deals.errors.DealsError`. Imports point down only (api -> services, selectors, and the
leaves errors and money); no module outside this package imports `deals.api`.
"""
