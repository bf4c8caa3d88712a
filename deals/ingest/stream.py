"""A file-like reader that checks a deals file while PostgreSQL's COPY consumes it.

The file is read in chunks of whole lines; each chunk is checked by one compiled regex (the
fast path) and handed to COPY as it is, so Python never holds more than a chunk and does no
per-row work on valid input. PostgreSQL parses the values in its own process, on the other
core, while the next chunk is being checked.

At the first bad line the stream hands over the valid lines before it (PostgreSQL may still
find an error of its own there, which would be the earlier one), then ends; `error` says what
was wrong. The caller must raise it, so the transaction rolls back.
"""

import hashlib
import queue
import re
import threading
from collections.abc import Callable
from typing import BinaryIO

from deals.ingest import format as fmt
from deals.ingest.fields import FieldError, split_fields

# Small enough that glibc serves the buffers without raising its mmap threshold (1 MiB
# chunks kept ~30 MB of freed heap in each worker), and that one regex match holds the GIL
# for well under a millisecond, so GETs served by the same worker are not held up.
CHUNK_BYTES = 1 << 16
MAX_LINE_BYTES = 1 << 20
BOM = b"\xef\xbb\xbf"


class MeasuredFile:
    """Counts and hashes every byte read from `raw`, so the upload's record has the size and
    SHA-256 of the whole file without a second pass, even for a body that cannot be re-read."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._sha256 = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        data = self._raw.read(size)
        self.size += len(data)
        self._sha256.update(data)
        return data

    def read_rest(self) -> None:
        """Read what is left (after a refused file), only to measure it."""
        while self.read(1 << 20):
            pass


class ValidatedCsv:
    """The deals file as COPY may read it: the header line, then only valid lines.

    Besides checking, it reads what has one obvious meaning: Excel's `sep=,` first line
    (skipped: COPY never sees it), header names in any case with blanks around them, blanks
    around `customer` and `item` (those lines are rewritten trimmed), and empty lines at the
    end (dropped). Clean chunks pass untouched on the fast path, and empty lines are dropped
    by a regex too; only a chunk with an invalid line is read line by line.
    """

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None = None):
        # A MeasuredFile lets the caller measure the rest of a refused file.
        self._raw = raw if isinstance(raw, MeasuredFile) else MeasuredFile(raw)
        self._progress = progress
        self.error: fmt.CsvError | None = None
        self._eof = False
        # Lines of the file before the header (the `sep=,` line): COPY counts from the header.
        self.lines_before_header = 0
        header, self._pending = self._read_header()
        self.columns, self._newline = parse_header(header, self.lines_before_header + 1)
        self._next_line = self.lines_before_header + 2  # the first line not yet handed over
        # The first of the empty lines (or rows of only commas) held back, and what it is.
        self._blank_from: int | None = None
        self._blank_kind = fmt.EMPTY_LINE
        self._chunk_re = fmt.chunk_regex(self.columns, self._newline)
        self._line_re = fmt.line_regex(self.columns)
        self._trimming = fmt.trimming(self.columns, self._newline)
        self._header = header  # handed to COPY first; its HEADER option skips it

    @property
    def size(self) -> int:
        return self._raw.size

    @property
    def sha256(self) -> str:
        return self._raw.sha256

    def read(self, size: int = -1) -> bytes:
        """The next checked bytes (about a chunk; `size` is only a hint), or b"" at the end."""
        if self._header:
            header, self._header = self._header, b""
            return header
        while self.error is None:
            if self._eof:
                last, self._pending = self._pending, b""
                return self._check(last, final=True) if last else b""
            buffer = self._pending + self._read_raw()
            cut = buffer.rfind(b"\n") + 1
            body, self._pending = buffer[:cut], buffer[cut:]
            checked = self._check(body, final=False) if body else b""
            if self.error is None and len(self._pending) > MAX_LINE_BYTES:
                self.error = fmt.line_too_long(self._next_line, MAX_LINE_BYTES)
            if checked:
                return checked
        return b""

    def _read_raw(self) -> bytes:
        data = self._raw.read(CHUNK_BYTES)
        if not data:
            self._eof = True
            return b""
        if self._progress:
            self._progress(self.size)
        return data

    def _read_header(self) -> tuple[bytes, bytes]:
        """The header line and the bytes after it, past an Excel `sep=,` line."""
        line, rest = self._first_line(b"", 1)
        if not line:
            raise fmt.CsvError(fmt.EMPTY_FILE)
        content = _content(line.removeprefix(BOM))
        if not fmt.SEPARATOR_START.match(content):
            return line, rest
        if content.lower() != b"sep=,":
            raise fmt.separator_refused(content)
        self.lines_before_header = 1
        return self._first_line(rest, 2)

    def _first_line(self, buffer: bytes, number: int) -> tuple[bytes, bytes]:
        """Line `number` (the first of `buffer` and what follows it) and the bytes after it."""
        while b"\n" not in buffer and len(buffer) <= MAX_LINE_BYTES:
            data = self._read_raw()
            if not data:
                break
            buffer += data
        cut = buffer.find(b"\n") + 1 or len(buffer)
        line = buffer[:cut]
        if b"\r" in _without_break(line):  # before the length: a CR-only file is one long "line"
            raise fmt.at_line(number, _header_cr_problem(line))
        if cut > MAX_LINE_BYTES:
            raise fmt.line_too_long(number, MAX_LINE_BYTES)
        return line, buffer[cut:]

    def _check(self, body: bytes, *, final: bool) -> bytes:
        """Return what COPY may read of `body`; set `error` at the first invalid line."""
        if self._blank_from is not None:  # after an empty line, only empty lines may follow
            self._drop_empty_lines(body)
            return b""
        checked = self._checked_by_regex(body, final=final)
        if checked is not None:
            return checked
        empty = _FIRST_EMPTY_LINE.search(body)
        if empty is None:
            return self._check_lines(body)
        # The lines before the first empty one are checked as any chunk; what follows is
        # dropped if it is only empty lines, as the end of a file is. A regex pass each, so
        # megabytes of empty lines cost what clean rows do, not a Python step per line.
        rows = body[: empty.start()]
        checked = self._checked_by_regex(rows, final=False)
        if checked is None:
            checked = self._check_lines(rows)
        if self.error is None:
            self._blank_from, self._blank_kind = self._next_line, _empty_kind(empty[0])
            self._drop_empty_lines(body[empty.start() :])
        return checked

    def _checked_by_regex(self, body: bytes, *, final: bool) -> bytes | None:
        """`body` as COPY may read it when the chunk regex, or the trimming one, takes it whole;
        None when neither does (the chunk holds an invalid or an empty line)."""
        whole_lines = final is False or body.endswith(b"\n")
        # A byte-order mark is refused after the header (format.BOM_IN_VALUE); the regexes take
        # it as text, so a chunk holding one is read line by line.
        if not (whole_lines and not _holds_bom(body) and _is_utf8(body)):
            return None
        if self._chunk_re.fullmatch(body):
            self._next_line += body.count(b"\n")
            return body
        if self._trimming.chunk.fullmatch(body):  # blanks around text values
            self._next_line += body.count(b"\n")
            return self._trimming.trim(body)
        return None

    def _drop_empty_lines(self, body: bytes) -> None:
        """Past an empty line: `body` is dropped if it is only empty lines (and rows of only
        commas); otherwise a row follows them, refused at the first of them."""
        if _EMPTY_LINES.fullmatch(body):
            self._next_line += body.count(b"\n")  # a last line without a break ends the file
        else:
            self.error = fmt.at_line(self._blank_from, self._blank_kind)

    def _check_lines(self, body: bytes) -> bytes:
        """The lines of `body` (none of them empty) one by one: each kept or rewritten trimmed;
        at the first invalid one, `error` is set and only the lines before it are returned."""
        kept = []
        start = 0
        while start < len(body):
            end = body.find(b"\n", start) + 1 or len(body)
            checked = self._checked_line(body[start:end], self._next_line)
            if checked is None:
                break
            kept.append(checked)
            self._next_line += 1
            start = end
        return b"".join(kept)

    def _checked_line(self, line: bytes, number: int) -> bytes | None:
        """The line as COPY may read it, or None with `error` set."""
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error = fmt.not_utf8(number, line[exc.start])
            return None
        content = _strip_newline(line, self._newline)
        if content is None:
            self.error = fmt.mixed_newlines(number, self._newline)
            return None
        if BOM not in content and self._line_re.fullmatch(content):
            return line
        trimmed = trimmed_line(content, self.columns)
        if trimmed is None:
            ended = len(content) < len(line)
            self.error = line_problem(content, number, self.columns, ended=ended)
            return None
        return trimmed + line[len(content) :]


class ReadAhead:
    """Runs `stream.read()` on a helper thread, a few chunks ahead of the consumer.

    psycopg2's COPY calls read() and then sends on the same thread, so without this the regex
    waits for the socket and the socket for the regex. Sending releases the GIL: while COPY
    sends one chunk the helper checks the next, and PostgreSQL parses on the other core.
    At most `depth` chunks wait.
    """

    def __init__(self, stream: ValidatedCsv, depth: int = 8):
        self._stream = stream
        self._chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._failure: Exception | None = None
        self._thread = threading.Thread(target=self._produce, name="csv-read-ahead", daemon=True)

    def __enter__(self) -> "ReadAhead":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        # COPY may stop early (PostgreSQL refused a value): release the helper and wait for it,
        # so the stream's error, size and digest are final when the caller reads them.
        self._stop.set()
        self._thread.join()
        if self._failure is not None:
            # psycopg2 reports an exception raised in read() as a cancelled query (a database
            # error); raise what really happened instead, e.g. an unreadable upload file.
            raise self._failure

    def read(self, size: int = -1) -> bytes:
        item = self._chunks.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._stream.read()
                self._put(chunk)
                if not chunk:
                    return
        except Exception as exc:  # handed to the consumer, which raises it in COPY's thread
            self._failure = exc
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


# What an empty line may hold: blanks, and CRs (its line break may be LF or CRLF, whatever the
# header's); an empty row (Excel's `,,,,` below the last deal) commas too.
_EMPTY_LINE_BYTES = b"[" + re.escape(fmt.BLANKS + b"\r,") + b"]"
# The first empty line or row of a chunk: one ending with LF, or the file's last line.
_FIRST_EMPTY_LINE = re.compile(
    rb"(?m)^(?:" + _EMPTY_LINE_BYTES + rb"*+\n|" + _EMPTY_LINE_BYTES + rb"++\Z)"
)
# Nothing but empty lines and rows.
_EMPTY_LINES = re.compile(b"[" + re.escape(fmt.BLANKS + b"\r\n,") + b"]*+")


def _empty_kind(line: bytes) -> str:
    """What an empty line is called in an error: an empty line, or a row of only commas."""
    return fmt.EMPTY_ROW if b"," in line else fmt.EMPTY_LINE


def _content(line: bytes) -> bytes:
    """The line without its break (LF or CRLF)."""
    return line.removesuffix(b"\n").removesuffix(b"\r")


def _without_break(line: bytes) -> bytes:
    """The line without its LF or CRLF; a CR not followed by LF stays."""
    return line.removesuffix(b"\n").removesuffix(b"\r") if line.endswith(b"\n") else line


def cr_problem(content: bytes, *, ended: bool) -> str:
    """Why a line (`content`: without its LF or CRLF; `ended`: it had one) holds a CR."""
    if content.endswith(b"\r") and content.count(b"\r") == 1:
        return fmt.DOUBLED_CR if ended else fmt.LAST_CR
    return fmt.CR_INSIDE


def _header_cr_problem(line: bytes) -> str:
    """Why the first line holds a CR. No LF in it, or a whole header before its first CR: the
    file breaks its lines with CR alone (old Mac CSV), rather than a CR inside a line."""
    ended = line.endswith(b"\n")
    content = _without_break(line)
    problem = cr_problem(content, ended=ended)
    before_cr = content.removeprefix(BOM).split(b"\r", 1)[0]
    if problem == fmt.CR_INSIDE and (not ended or _names_the_columns(before_cr)):
        return fmt.CR_ONLY
    return problem


def _names_the_columns(content: bytes) -> bool:
    """Whether the line is a header: the five column names, in any order and case."""
    try:
        fields = split_fields(content)
        if len(fields) != len(fmt.COLUMNS):  # a line of a million fields: none is read
            return False
        names = sorted(fmt.column_name(field) for field in fields)
    except (FieldError, UnicodeDecodeError):
        return False
    return names == sorted(fmt.COLUMNS)


def _holds_bom(data: bytes) -> bool:
    """Whether a byte-order mark is anywhere in `data`."""
    # Its first byte alone first (memchr: 1 µs per 64 KiB), which few texts hold: the search for
    # the three bytes takes 50 µs, a clean chunk's whole check about 700.
    return BOM[:1] in data and BOM in data


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strip_newline(line: bytes, newline: bytes) -> bytes | None:
    """The line without its break; None when the break is not the header's kind."""
    if line.endswith(b"\r\n"):
        kind = b"\r\n"
    elif line.endswith(b"\n"):
        kind = b"\n"
    else:  # the last line of the file may have no break
        return line
    return line[: -len(kind)] if kind == newline else None


def trimmed_line(content: bytes, columns: tuple[str, ...]) -> bytes | None:
    """The line with blanks around `customer` and `item` trimmed, as COPY reads it (text values
    quoted); None when it is not valid even so (line_problem says why)."""
    if b"\x00" in content or b"\r" in content or BOM in content:
        return None
    try:
        fields = split_fields(content)
    except FieldError:
        return None
    if len(fields) != len(columns):
        return None
    written = []
    for column, value in zip(columns, fields, strict=True):
        if column in fmt.TEXT_COLUMNS:
            value = value.strip(fmt.BLANKS)
            if not value:
                return None
            written.append(b'"' + value.replace(b'"', b'""') + b'"')
        elif fmt.value_problem(column, value):
            return None
        else:
            written.append(value)
    return b",".join(written)


def line_problem(
    content: bytes, number: int, columns: tuple[str, ...], *, ended: bool = True
) -> fmt.CsvError:
    """Say precisely why one line (without its line break; `ended`: it had one, it is not the
    file's unterminated last line) is not a valid deal."""
    if not content.strip():
        return fmt.at_line(number, fmt.EMPTY_LINE)
    if b"\x00" in content:
        return fmt.at_line(number, "contains a NUL byte")
    if b"\r" in content:
        return fmt.at_line(number, cr_problem(content, ended=ended))
    # Two files joined: the second one's first lines, with or without its byte-order mark.
    unmarked = content.removeprefix(BOM)
    if fmt.SEPARATOR_DECLARATION.fullmatch(unmarked):
        return fmt.at_line(number, fmt.SEPARATOR_LINE)
    if _names_the_columns(unmarked):
        return fmt.at_line(number, fmt.REPEATED_HEADER)
    if content.startswith(BOM):
        return fmt.at_line(number, fmt.BOM_AT_LINE_START)
    try:
        fields = split_fields(content)
    except FieldError as exc:
        return fmt.at_line(number, exc.describe(columns))
    if len(fields) != len(columns):
        return fmt.at_line(number, f"expected {len(columns)} fields, found {len(fields)}")
    for column, value in zip(columns, fields, strict=True):
        if BOM in value:
            return fmt.value_error(number, column, value.decode("utf-8"), fmt.BOM_IN_VALUE)
        checked = value.strip(fmt.BLANKS) if column in fmt.TEXT_COLUMNS else value
        problem = fmt.value_problem(column, checked)
        if problem:
            return fmt.value_error(number, column, value.decode("utf-8"), problem)
    return fmt.at_line(number, "malformed CSV line")


def parse_header(line: bytes, number: int = 1) -> tuple[tuple[str, ...], bytes]:
    """The column order and the line break (CRLF or LF) that the header sets for the file.

    Names are matched trimmed and in any letter case: ` Customer ` is `customer`.
    """
    newline = b"\r\n" if line.endswith(b"\r\n") else b"\n"
    content = _content(line.removeprefix(BOM))
    if not content.strip():
        raise fmt.no_header(number)
    if fmt.SEPARATOR_START.match(content):  # Excel's line again, after the first
        raise fmt.at_line(number, fmt.SEPARATOR_LINE)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fmt.not_utf8(number, content[exc.start]) from None
    try:
        fields = split_fields(content)
    except FieldError as exc:
        raise fmt.at_line(number, exc.describe(())) from None
    names = tuple(fmt.column_name(field) for field in fields)
    fmt.check_header(number, names, tuple(field.decode("utf-8") for field in fields), text)
    return names, newline
