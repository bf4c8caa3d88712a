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
form of more than MAX_PARTS parts, a malformed body, or two `deals` parts answer 400. Only
UTF-8 bytes as they are: a charset other than UTF-8 (in any spelling, RFC 2231 too; or
parameters that cannot be read, which hide it) or a content coding (gzip, base64, ...) answers
415 (so does a transfer coding other than chunked, which gunicorn passes through).

A body that breaks off (shorter than its Content-Length, the connection reset, chunked framing
the server cannot parse, no bytes for DEALS_BODY_READ_TIMEOUT seconds under gunicorn) answers
400 and is recorded in the upload history whatever its type: a multipart body hands the
service a file whose first read raises why.
"""

import contextlib
import email.utils
import io
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from email.message import Message
from typing import BinaryIO

import multipart
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from gunicorn.http.errors import ParseException
from rest_framework.parsers import BaseParser, DataAndFiles

from deals.errors import DealsError, LengthRequired, UnsupportedBody, too_large

FIELD = "deals"
MEGABYTE = 1024 * 1024
CHUNK_BYTES = 1 << 16
MAX_PARTS = 1000

BODY_LABEL = "(text/csv body)"
FIELD_LABEL = "(form field deals)"
MULTIPART_LABEL = "(multipart body)"  # broken off before its `deals` part began

HOW_TO_UPLOAD = (
    "send the file as the multipart field 'deals' (curl -F deals=@deals.csv) "
    "or as a text/csv body (curl --data-binary @deals.csv -H 'Content-Type: text/csv')"
)
NO_BOUNDARY = f"the multipart Content-Type has no boundary; {HOW_TO_UPLOAD}"
MALFORMED = f"the multipart body is malformed; {HOW_TO_UPLOAD}"
TOO_MANY_PARTS = f"the form has more than {MAX_PARTS} parts; send only the field 'deals'"
MANY_FILES = "send exactly one file in the multipart field 'deals'"
BODY_CUT_OFF = "the request body ended before it was complete"
NOT_CHUNKED = "the request body is not valid chunked coding (Transfer-Encoding: chunked)"
NO_BODY = f"the request has no body; {HOW_TO_UPLOAD}"
# The file's bytes come as they are: no content coding, and UTF-8 (RFC 7578 needs no other).
# Per header, the codings that leave the bytes as they are: chunked framing is undone by the
# server (gunicorn passes a gzip or deflate transfer coding before it through, undecoded).
IDENTITY = {
    "Content-Encoding": {"identity"},
    "Content-Transfer-Encoding": {"7bit", "8bit", "binary"},
    "Transfer-Encoding": {"chunked", "identity"},
}
# How to send the file as it is, per header.
AS_IT_IS = {
    "Content-Encoding": "without Content-Encoding",
    "Content-Transfer-Encoding": "without Content-Transfer-Encoding",
    "Transfer-Encoding": "with a Content-Length or Transfer-Encoding: chunked alone",
}
UTF8_CHARSETS = {"utf-8", "utf8"}
LENGTH_REQUIRED = (
    "this server cannot read a chunked body: send a Content-Length header "
    "(curl -F and --data-binary @file do)"
)


class BrokenBody(DealsError):
    """The body broke off before its end: the client's fault, and the upload changed nothing."""


def stopped_arriving() -> BrokenBody:
    seconds = settings.DEALS_BODY_READ_TIMEOUT
    return BrokenBody(
        f"the request body stopped arriving: no bytes for {seconds:g} seconds "
        "(the client stopped sending)"
    )


def ended_early(received: int, declared: int | None) -> BrokenBody:
    if declared is None:  # chunked: how long it should have been is unknown
        return BrokenBody(BODY_CUT_OFF)
    return BrokenBody(
        f"the request body ended after {received} of the {declared} bytes its Content-Length "
        "declares (the client stopped sending)"
    )


def unsupported_body(content_type: str) -> UnsupportedBody:
    received = f"the body is {content_type}" if content_type else "the body has no Content-Type"
    return UnsupportedBody(f"{received}, not an upload; {HOW_TO_UPLOAD}")


def _refuse_coded(what: str, header: str, coding: str) -> None:
    """A body (or part) sent compressed or otherwise coded is refused, not decoded here."""
    codings = {token.strip().lower() for token in coding.split(",")} - {""}
    if codings - IDENTITY[header]:
        raise UnsupportedBody(
            f"{what} is encoded ({header}: {coding.strip()}); "
            f"send the file as it is, {AS_IT_IS[header]}"
        )


def _refuse_charset(what: str, content_type: str) -> None:
    """A file declared in a charset other than UTF-8 is refused, not read as UTF-8 anyway; so
    is one whose Content-Type parameters cannot be read, since what they declare is unknown."""
    charsets = _declared_charsets(content_type)
    if charsets is None:
        raise UnsupportedBody(
            f"{what}'s Content-Type is malformed ({content_type}); send it as text/csv, with "
            "charset=utf-8 or no charset"
        )
    for charset in charsets:
        if charset.lower() not in UTF8_CHARSETS:
            shown = charset or '""'  # charset="" names no charset either
            raise UnsupportedBody(
                f"{what} declares charset={shown}, but UTF-8 is the only encoding read; save the "
                "file as UTF-8 and send it with charset=utf-8 or no charset"
            )


# A Content-Type's parameters (RFC 9110 5.6.6): `; name=value`, the value a token (tchar+) or
# a quoted string. Blanks around `;` are the grammar's; around `=` they are read too, as
# lenient parsers (and this service, before) read them. Header text comes as latin-1: one
# character a byte.
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_PARAMETER = re.compile(rf"[ \t]*;[ \t]*(?:({_TCHARS})[ \t]*=[ \t]*({_TCHARS}|{_QUOTED}))?[ \t]*")
# RFC 2231: `charset*=utf-8'en'latin1` (percent-encoded after the charset and language), or
# continued: `charset*0*=utf-8''ut`, `charset*1=f-8`. A trailing `*` marks a percent-encoded part.
_CHARSET_2231 = re.compile(r"charset\*(?:(\d+)\*?)?")
_CHARSET_AND_LANGUAGE = re.compile(r"[^']*'[^']*'")


def _parameters(content_type: str) -> list[tuple[str, str]] | None:
    """The parameters as (lowercased name, unquoted value); None when they cannot be parsed
    (an unterminated quote, a byte that no token holds, a name without a value)."""
    position = content_type.find(";")
    if position < 0:
        return []
    parameters = []
    while position < len(content_type):
        match = _PARAMETER.match(content_type, position)
        if match is None:
            return None
        if match[1]:
            value = match[2]
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1], flags=re.DOTALL)
            parameters.append((match[1].lower(), value))
        position = match.end()
    return parameters


def _declared_charsets(content_type: str) -> list[str] | None:
    """Every charset the Content-Type names, plain, quoted or in RFC 2231 form (its parts
    joined); None when its parameters cannot be parsed."""
    parameters = _parameters(content_type)
    if parameters is None:
        return None
    charsets = [value for name, value in parameters if name == "charset"]
    parts: dict[int, str] = {}
    for name, value in parameters:
        match = _CHARSET_2231.fullmatch(name)
        if match is None:
            continue
        index = int(match[1] or 0)
        if index in parts:  # the same part twice: which one counts is unknown
            return None
        if name.endswith("*"):
            if index == 0:
                prefix = _CHARSET_AND_LANGUAGE.match(value)
                if prefix is None:
                    return None
                value = value[prefix.end() :]
            # A charset's name is ASCII: bytes beyond it name no charset read here either way.
            value = urllib.parse.unquote(value, encoding="latin-1")
        parts[index] = value
    if parts:
        charsets.append("".join(parts[index] for index in sorted(parts)))
    return charsets


class CsvBodyParser(BaseParser):
    """`Content-Type: text/csv`: the request body is the deals file, streamed to the service."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        _refuse_request(request)
        _refuse_charset("the body", request.content_type)
        name = _file_name(request.headers.get("Content-Disposition", "")) or BODY_LABEL
        return _deals(ReceivedBody(stream, name, _declared_length(request.META)))


class DealsMultiPartParser(BaseParser):
    """`multipart/form-data`: the part named `deals`, as a file or as a text field."""

    media_type = "multipart/form-data"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        _refuse_request(request)
        boundary = _boundary(media_type or request.content_type)
        body = RequestBody(stream, _declared_length(request.META))
        # Returned open, inside the UploadedFile: Django closes (and so deletes) it after the
        # response, as it does its own upload files.
        target = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        try:
            name, broken = _copy_deals_part(body, boundary, target)
        except BaseException:
            target.close()
            raise
        if broken is not None or name is None:
            target.close()
            return _deals(broken and BrokenUpload(name or MULTIPART_LABEL, broken))
        size = target.tell()
        target.seek(0)
        return _deals(UploadedFile(target, name=name, content_type="text/csv", size=size))


class RequestBody:
    """The request body as the server hands it over, held to what the request declared.

    Servers end a body that stops short of its Content-Length as they end a whole one (gunicorn
    returns b"" once the client has closed its side), so the bytes are counted here; a reset
    connection (OSError) or chunked framing the server cannot parse (gunicorn raises its
    ParseException from the read) breaks the body off too. Each raises BrokenBody.
    """

    def __init__(self, stream: BinaryIO, declared: int | None):
        self._stream = stream
        self._declared = declared  # None when chunked: the end is the last chunk
        self._received = 0
        # Once broken, always: a server's reader may answer b"" after its error, which would
        # look like the end of a whole body.
        self._broken: BrokenBody | None = None

    def read(self, size: int = -1) -> bytes:
        if self._broken is None:
            try:
                return self._checked_read(size)
            except BrokenBody as exc:
                self._broken = exc
        raise self._broken

    def _checked_read(self, size: int) -> bytes:
        try:
            data = self._stream.read(size)
        except OSError as exc:  # reset, gunicorn's NoMoreData inside a chunk, or a timeout
            if _timed_out(exc):
                raise stopped_arriving() from exc
            raise ended_early(self._received, self._declared) from exc
        except ParseException as exc:
            raise BrokenBody(NOT_CHUNKED) from exc
        self._received += len(data)
        short = self._declared is not None and self._received < self._declared
        if short and (size < 0 or (size and not data)):
            raise ended_early(self._received, self._declared)
        return data


def _timed_out(exc: OSError) -> bool:
    """Whether the socket's timeout (body_reads_bounded) ended the read. Django's request
    re-raises an OSError from its stream as UnreadablePostError, from the original."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__cause__, TimeoutError)


class ReceivedBody(RequestBody):
    """The text/csv request body as a read-only file, read as the service asks for it."""

    def __init__(self, stream: BinaryIO, name: str, size: int | None):
        super().__init__(stream, size)
        self.name = name
        self.size = size  # None when chunked: known only once read


class BrokenUpload:
    """The `deals` file of a multipart body that broke off: handed to the service all the same,
    so that the attempt is recorded, as a text/csv body's is; its first read raises why."""

    size = None

    def __init__(self, name: str, error: BrokenBody):
        self.name = name
        self._error = error

    def read(self, size: int = -1) -> bytes:
        raise self._error


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


@contextlib.contextmanager
def body_reads_bounded(request) -> Iterator[None]:
    """Under gunicorn, a body whose next bytes do not come within DEALS_BODY_READ_TIMEOUT
    seconds breaks off (400, recorded), for as long as the block runs.

    A text/csv body streams into COPY inside the upload's transaction, so a client that stops
    sending would hold the upload lock, and every upload behind it, for as long as it liked.
    gunicorn receives the body from the connection's socket when the parsers read it, and
    hands the socket over as `gunicorn.socket`: the socket's own timeout bounds each wait for
    bytes (recv raises TimeoutError, gunicorn marks the body failed and closes the connection
    after the answer). It is put back before the answer is written. Other servers hand over
    no socket: no bound there (nginx, under compose, buffers bodies first).
    """
    sock = request.META.get("gunicorn.socket")
    seconds = settings.DEALS_BODY_READ_TIMEOUT
    if sock is None or seconds <= 0:
        yield
        return
    before = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        sock.settimeout(before)


def unparsed_upload(request) -> MultiValueDict | None:
    """The upload of a request whose body DRF hands to no parser; None for any other.

    DRF parses a body only when its Content-Length is over 0. A chunked body has none: a WSGI
    server that de-chunks it and says so (`wsgi.input_terminated`, as gunicorn does) hands it
    over whole, and it goes through the same parsers, its size counted while it streams;
    other servers answer 411. An empty body goes through them too, so that an empty text/csv
    body is an empty file and a JSON one is 415, not "no file"; a request with neither a body
    nor a Content-Type (`curl -X POST`) is refused as such.
    """
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if _declared_length(meta):
        return None
    if not (chunked or request.content_type):
        raise DealsError(NO_BODY)
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


def _copy_deals_part(
    body: RequestBody, boundary: str, target: BinaryIO
) -> tuple[str | None, BrokenBody | None]:
    """Copy the `deals` part's bytes to `target`. Its label (None when there is none), and
    why the body broke off if it did (the label then says how far it came)."""
    name = None
    copying = False
    parts = 0
    # Header bytes decoded as latin-1 never fail, and keep every byte for _file_name to read.
    parser = multipart.PushMultipartParser(boundary, header_charset="latin1")
    try:
        while not parser.closed:
            for event in parser.parse(body.read(CHUNK_BYTES)):
                if isinstance(event, multipart.MultipartSegment):
                    parts += 1
                    if parts > MAX_PARTS:
                        raise DealsError(TOO_MANY_PARTS)
                    copying = event.name == FIELD
                    if copying and name is not None:
                        raise DealsError(MANY_FILES)
                    if copying:
                        _refuse_part_coding(event)
                        disposition = event.header("Content-Disposition", "")
                        name = _file_name(disposition) or FIELD_LABEL
                elif event and copying:
                    target.write(event)
    except multipart.MultipartError:
        raise DealsError(MALFORMED) from None
    except BrokenBody as exc:
        return name, exc
    return name, None


def _refuse_part_coding(part: multipart.MultipartSegment) -> None:
    coding = part.header("Content-Transfer-Encoding", "")
    _refuse_coded("the deals part", "Content-Transfer-Encoding", coding)
    _refuse_charset("the deals part", part.header("Content-Type", ""))


def _refuse_request(request) -> None:
    """What both parsers refuse before reading a byte: too large, or not the file as it is."""
    _refuse_declared_size(request.META)
    for header in ("Content-Encoding", "Transfer-Encoding"):
        _refuse_coded("the body", header, request.headers.get(header, ""))


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
    charset (an unknown one, or a codec that is no charset and refuses them: its bytes are read
    like a plain name's). Folders are dropped. deals.services makes any label storable.
    """
    if not disposition:
        return ""
    message = Message()
    message["Content-Disposition"] = disposition
    try:
        name = message.get_filename("")
    except UnicodeError:  # a codec that is no charset (idna, undefined) refused the bytes
        name = email.utils.unquote(message.get_param("filename", header="content-disposition")[2])
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
