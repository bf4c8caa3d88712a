"""The one exception type every face answers, and its kinds.

A `DealsError` carries the sentence a person reads (the API's `Desc`, the upload history, the
command's error) and the HTTP status it is answered with. Pure Python: `deals.ingest` imports
this module, so it stays free of Django and the database driver.
"""

from http import HTTPStatus

DATABASE_UNAVAILABLE = "the database is unavailable; try again later"
INTERNAL_ERROR = "internal error"


class DealsError(Exception):
    """A domain error; the API answers it as {"Status": "Error", "Desc": message}."""

    status_code = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UploadTooLarge(DealsError):
    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class LengthRequired(DealsError):
    status_code = HTTPStatus.LENGTH_REQUIRED


class UnsupportedBody(DealsError):
    status_code = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class DatabaseUnavailable(DealsError):
    """The database cannot be reached now; retrying later may work (503)."""

    status_code = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self):
        super().__init__(DATABASE_UNAVAILABLE)


class InternalError(DealsError):
    """Not the input's fault and not an outage: a defect or a surprise (500).

    `incident` is a short random id, also written to the server's log with the traceback, so
    that the person who got this answer and the operator can find the same failure.
    """

    status_code = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, incident: str, consequence: str = ""):
        message = f"{INTERNAL_ERROR} (id {incident})"
        super().__init__(f"{message}; {consequence}" if consequence else message)
        self.incident = incident


def too_large(limit_mb: int) -> UploadTooLarge:
    return UploadTooLarge(f"the upload is larger than the limit of {limit_mb} MB")
