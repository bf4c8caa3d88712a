from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from deals.errors import too_large

MEGABYTE = 1024 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    """Refuses an upload over DEALS_MAX_UPLOAD_MB while it streams in, not after.

    A declared Content-Length over the limit is refused before a byte of the body is read;
    a body without one (chunked) is refused at the chunk that crosses the limit.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = settings.DEALS_MAX_UPLOAD_MB * MEGABYTE
        if content_length > self.limit:
            raise too_large(settings.DEALS_MAX_UPLOAD_MB)

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            raise too_large(settings.DEALS_MAX_UPLOAD_MB)
        return raw_data

    def file_complete(self, file_size):
        return None
