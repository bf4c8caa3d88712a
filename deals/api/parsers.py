"""How an upload arrives: the multipart field `deals`, or the whole body as `text/csv`.

Both parsers give the view the same thing: `{"deals": [file]}` in `request.FILES` shape, where
`file` has `read()`, a `name` (only a label for the upload history: a name that is not UTF-8,
or given in RFC 2231 form, or missing, never hides the file) and a `size`.

- `text/csv`: the body itself is the file, read by the service straight from the request while
  COPY loads it; no temporary copy.
- `multipart/form-data`: parsed with `multipart` (a streaming parser that keeps header bytes
  as they came); the `deals` part, sent as a file or as a text field, is copied to a temporary
  file (the service reads it after the whole body is in); every other part is skipped unread.

Limits, in our own words: the body over DEALS_MAX_UPLOAD_MB answers 413 before a byte is read
when its Content-Length says so, or at the byte that crosses the limit when it is chunked; a
form of more than MAX_PARTS parts, a malformed body, or two `deals` parts answer 400.
"""

import contextlib
import io
import re
import tempfile
from email.message import Message
from typing import BinaryIO

import multipart
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from rest_framework.parsers import BaseParser, DataAndFiles

from deals.errors import DealsError, LengthRequired, UnsupportedBody, too_large

FIELD = "deals"
MEGABYTE = 1024 * 1024
CHUNK_BYTES = 1 << 16
MAX_PARTS = 1000

BODY_LABEL = "(text/csv body)"
FIELD_LABEL = "(form field deals)"

HOW_TO_UPLOAD = (
    "send the file as the multipart field 'deals' (curl -F deals=@deals.csv) "
    "or as a text/csv body (curl --data-binary @deals.csv -H 'Content-Type: text/csv')"
)
NO_BOUNDARY = f"the multipart Content-Type has no boundary; {HOW_TO_UPLOAD}"
MALFORMED = f"the multipart body is malformed; {HOW_TO_UPLOAD}"
TOO_MANY_PARTS = f"the form has more than {MAX_PARTS} parts; send only the field 'deals'"
MANY_FILES = "send exactly one file in the multipart field 'deals'"
BODY_CUT_OFF = "the request body ended before it was complete"
LENGTH_REQUIRED = (
    "this server cannot read a chunked body: send a Content-Length header "
    "(curl -F and --data-binary @file do)"
)


def unsupported_body(content_type: str) -> UnsupportedBody:
    received = f"the body is {content_type}" if content_type else "the body has no Content-Type"
    return UnsupportedBody(f"{received}, not an upload; {HOW_TO_UPLOAD}")


class CsvBodyParser(BaseParser):
    """`Content-Type: text/csv`: the request body is the deals file, streamed to the service."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        _refuse_declared_size(request.META)
        name = _file_name(request.headers.get("Content-Disposition", "")) or BODY_LABEL
        return _deals(ReceivedBody(stream, name, _declared_length(request.META)))


class DealsMultiPartParser(BaseParser):
    """`multipart/form-data`: the part named `deals`, as a file or as a text field."""

    media_type = "multipart/form-data"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        _refuse_declared_size(request.META)
        boundary = _boundary(media_type or request.content_type)
        # Returned open, inside the UploadedFile: Django closes (and so deletes) it after the
        # response, as it does its own upload files.
        target = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        try:
            name = _copy_deals_part(stream, boundary, target)
        except BaseException:
            target.close()
            raise
        if name is None:
            target.close()
            return _deals(None)
        size = target.tell()
        target.seek(0)
        return _deals(UploadedFile(target, name=name, content_type="text/csv", size=size))


class ReceivedBody:
    """The request body as a read-only file, read as the service asks for it."""

    def __init__(self, stream: BinaryIO, name: str, size: int | None):
        self._stream = stream
        self.name = name
        self.size = size  # None when chunked: known only once read

    def read(self, size: int = -1) -> bytes:
        return _read(self._stream, size)


class LimitedReader:
    """A body of unknown length (chunked), refused at the byte that crosses the size limit."""

    def __init__(self, raw: BinaryIO, limit_mb: int):
        self._raw = raw
        self._limit_mb = limit_mb
        self._left = limit_mb * MEGABYTE

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size >= 0 else CHUNK_BYTES)
        self._left -= len(data)
        if self._left < 0:
            raise too_large(self._limit_mb)
        return data


def unparsed_upload(request) -> MultiValueDict | None:
    """The upload of a request whose body DRF hands to no parser; None for any other.

    DRF parses a body only when its Content-Length is over 0. A chunked body has none: a WSGI
    server that de-chunks it and says so (`wsgi.input_terminated`, as gunicorn does) hands it
    over whole, and it goes through the same parsers, its size counted while it streams;
    other servers answer 411. An empty body goes through them too, so that an empty text/csv
    body is an empty file and a JSON one is 415, not "no file".
    """
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if _declared_length(meta) or not (chunked or request.content_type):
        return None
    parser = request.negotiator.select_parser(request, request.parsers)
    if parser is None:
        raise unsupported_body(request.content_type.split(";")[0].strip())
    if not chunked:
        body = io.BytesIO()
    elif meta.get("wsgi.input_terminated"):
        body = LimitedReader(meta["wsgi.input"], settings.DEALS_MAX_UPLOAD_MB)
    else:
        raise LengthRequired(LENGTH_REQUIRED)
    return parser.parse(body, request.content_type, request.parser_context).files


def _deals(file) -> DataAndFiles:
    return DataAndFiles(QueryDict(), MultiValueDict({FIELD: [file]} if file else {}))


def _copy_deals_part(stream: BinaryIO, boundary: str, target: BinaryIO) -> str | None:
    """Copy the `deals` part's bytes to `target`; its label, or None when there is none."""
    name = None
    copying = False
    parts = 0
    # Header bytes decoded as latin-1 never fail, and keep every byte for _file_name to read.
    parser = multipart.PushMultipartParser(boundary, header_charset="latin1")
    try:
        while not parser.closed:
            for event in parser.parse(_read(stream, CHUNK_BYTES)):
                if isinstance(event, multipart.MultipartSegment):
                    parts += 1
                    if parts > MAX_PARTS:
                        raise DealsError(TOO_MANY_PARTS)
                    copying = event.name == FIELD
                    if copying and name is not None:
                        raise DealsError(MANY_FILES)
                    if copying:
                        disposition = event.header("Content-Disposition", "")
                        name = _file_name(disposition) or FIELD_LABEL
                elif event and copying:
                    target.write(event)
    except multipart.MultipartError:
        raise DealsError(MALFORMED) from None
    return name


def _read(stream: BinaryIO, size: int) -> bytes:
    try:
        return stream.read(size)
    except OSError as exc:  # the client went away or sent less than it declared
        raise DealsError(BODY_CUT_OFF) from exc


def _boundary(content_type: str) -> str:
    _, params = multipart.parse_options_header(content_type)
    boundary = params.get("boundary", "")
    if not boundary:
        raise DealsError(NO_BOUNDARY)
    return boundary


def _file_name(disposition: str) -> str:
    """The file name a Content-Disposition header gives, as a label ("" when none).

    Plain `filename="..."` bytes are read as UTF-8 when they are UTF-8 (headers arrive as
    latin-1 text), otherwise kept as latin-1; `filename*=` (RFC 2231) is decoded by its own
    charset (an unknown one: its bytes are read like a plain name's). Folders are dropped.
    """
    if not disposition:
        return ""
    message = Message()
    message["Content-Disposition"] = disposition
    name = message.get_filename("")
    # Not encodable: already decoded from RFC 2231; not UTF-8: latin-1 is as good a label.
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        name = name.encode("latin-1").decode("utf-8")
    return re.split(r"[\\/]", name)[-1].strip()


def _declared_length(meta) -> int | None:
    try:
        return int(meta["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None


def _refuse_declared_size(meta) -> None:
    limit_mb = settings.DEALS_MAX_UPLOAD_MB
    if (_declared_length(meta) or 0) > limit_mb * MEGABYTE:
        raise too_large(limit_mb)
