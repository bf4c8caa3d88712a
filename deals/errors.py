from http import HTTPStatus


class DealsError(Exception):
    """A domain error; the API answers it as {"Status": "Error", "Desc": message}."""

    status_code = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UploadTooLarge(DealsError):
    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def too_large(limit_mb: int) -> UploadTooLarge:
    return UploadTooLarge(f"the upload is larger than the limit of {limit_mb} MB")
