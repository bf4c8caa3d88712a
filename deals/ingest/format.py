"""What a valid deals file looks like, as compiled regular expressions, and the texts of the
errors that say where a file departs from it.

The whole-chunk regex is the fast path: one C-level match per chunk. When it fails, the
line-by-line diagnosis below finds the first bad line and says exactly what is wrong with it.
Both are built from the same per-column patterns, so they cannot disagree; the chunk regex
only leaves out the rare spelling that would slow it (a quantity with leading zeros), which the
slower paths read.
"""

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from deals.errors import DealsError

COLUMNS = ("customer", "item", "total", "quantity", "date")
TEXT_COLUMNS = ("customer", "item")
MAX_TOTAL = 10**12
# Longest customer or item, in characters. Each is a key of the report views' btree indexes,
# whose entries PostgreSQL limits to 2704 bytes: 256 characters of up to 4 UTF-8 bytes each is
# at most 1 KiB, so even a key of both columns fits. Checked by PostgreSQL while COPY loads
# (CHECK constraints on the deals table), so the fast path pays no per-value Python.
MAX_TEXT_LENGTH = 256

# Blanks: the ASCII spaces and tabs (and vertical tab, form feed) trimmed around text values.
BLANKS = b" \t\x0b\x0c"
_NOT_BLANK_BEFORE = rb"(?<![ \t\x0b\x0c])"
# Text as the fast path takes it: no blank at either end (a value with surrounding blanks
# takes the line-by-line path, which trims it). The quantifiers are possessive (`*+`, `{m,n}+`,
# `?+`: never given back, so the regex engine keeps no backtracking state): with them the
# chunk regex checks 1M rows in 0.85x the CPU time of the greedy patterns it replaces.
_TEXT = rb'[^",\r\n\x00 \t\x0b\x0c][^",\r\n\x00]*+' + _NOT_BLANK_BEFORE
_QUOTED_TEXT = rb'"(?:[^"\r\n\x00 \t\x0b\x0c]|"")(?:[^"\r\n\x00]|"")*+' + _NOT_BLANK_BEFORE + rb'"'
# Numbers are read by their value: leading zeros are allowed and do not count towards the
# limits (`007`, `0000000000001` and `01` are 7, 1 and 1), in total and quantity alike. At
# least one digit before a decimal point (not `.5`).
# The usual value is the first alternative, as it was before leading zeros were read: a clean
# file's check costs what it did.
_TOTAL = (
    rb"(?:\d{1,12}+(?:\.\d{1,2}+)?+"
    rb"|0++(?:[1-9]\d{0,11}+)?+(?:\.\d{1,2}+)?+"
    rb"|0*+1000000000000(?:\.0{1,2}+)?+)"
)
_QUANTITY = rb"0*+[1-9]\d{0,9}+"
# The chunk regex (the fast path) reads quantities as exporters write them, without leading
# zeros: reading them there too cost a clean 1M-row file 1-3% more CPU. A chunk that has one
# fails the fast path and takes the trimming pass, which reads them.
_PLAIN_QUANTITY = rb"[1-9]\d{0,9}+"
# A date alone is midnight UTC (the session's time zone, like a time without an offset).
# Offsets up to ±15:59: PostgreSQL refuses larger ones ("time zone displacement out of range").
_DATE = (
    rb"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[ T]"
    rb"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6}+)?+"
    rb"(?:Z|[+-](?:0\d|1[0-5])(?::?[0-5]\d)?+)?+)?+"
)

# A text value once unquoted and trimmed: it may hold quotes and commas, and is not empty.
_TEXT_VALUE = rb"[^\r\n\x00]+"

VALUE_PATTERNS = {
    "customer": re.compile(_TEXT_VALUE),
    "item": re.compile(_TEXT_VALUE),
    "total": re.compile(_TOTAL),
    "quantity": re.compile(_QUANTITY),
    "date": re.compile(_DATE),
}

PROBLEMS = {
    "customer": "is empty",
    "item": "is empty",
    "total": "is not a non-negative number with at most 2 decimals",
    "quantity": "is not a positive integer",
    "date": "is not an ISO 8601 date like 2018-12-14 or 2018-12-14 08:29:52.506166",
}
# CHECK constraints of the deals table that a well-formed line can still break.
CONSTRAINT_PROBLEMS = {
    "deal_date_in_python_range": "date is out of range (years 0001 to 9999 in UTC)",
    "deal_customer_length": f"customer is longer than {MAX_TEXT_LENGTH} characters",
    "deal_item_length": f"item is longer than {MAX_TEXT_LENGTH} characters",
}
OUT_OF_RANGE = {
    "total": f"is over {MAX_TOTAL}",
    "quantity": "is out of range (at most 2147483647)",
    "date": "is not a valid date and time",
}


def _field_pattern(column: str, *, plain: bool = False) -> bytes:
    if column in TEXT_COLUMNS:
        return rb"(?:" + _TEXT + rb"|" + _QUOTED_TEXT + rb")"
    value = VALUE_PATTERNS[column].pattern
    if plain and column == "quantity":
        value = _PLAIN_QUANTITY
    return rb"(?:" + value + rb'|"' + value + rb'")'


def chunk_regex(columns: tuple[str, ...], newline: bytes) -> re.Pattern[bytes]:
    """A regex that matches any run of complete, valid lines with columns in this order, as
    files are usually written (a quantity without leading zeros: see _PLAIN_QUANTITY)."""
    fields = (_field_pattern(column, plain=True) for column in columns)
    line = b",".join(fields) + re.escape(newline)
    return re.compile(rb"(?:" + line + rb")*")


def line_regex(columns: tuple[str, ...]) -> re.Pattern[bytes]:
    """A regex for one valid line without its line break (the last line of a file may lack one)."""
    return re.compile(b",".join(_field_pattern(column) for column in columns))


# Text with blanks around it, the value itself captured without them (and without its quotes).
# Not possessive: the value gives back its trailing blanks to the `(?<!blank)` check.
_PADDED_TEXT = rb'[ \t\x0b\x0c]*+(?P<{0}>[^",\r\n\x00 \t\x0b\x0c][^",\r\n\x00]*' + _NOT_BLANK_BEFORE
_PADDED_TEXT += rb")[ \t\x0b\x0c]*+"
_PADDED_QUOTED = rb'"[ \t\x0b\x0c]*+(?P<{0}>(?:[^"\r\n\x00 \t\x0b\x0c]|"")(?:[^"\r\n\x00]|"")*'
_PADDED_QUOTED += _NOT_BLANK_BEFORE + rb')[ \t\x0b\x0c]*+"'


@dataclass(frozen=True)
class Trimming:
    """Lines valid once the blanks around their text values are trimmed, and how to trim them:
    for a chunk the strict chunk regex refused, still one regex pass and one `re.sub`."""

    chunk: re.Pattern[bytes]  # any run of such lines
    line: re.Pattern[bytes]
    template: bytes

    def trim(self, body: bytes) -> bytes:
        return self.line.sub(self.template, body)


def trimming(columns: tuple[str, ...], newline: bytes) -> Trimming:
    """Each value is captured twice, as written bare (`b`) or quoted (`q`): the template joins
    both, as `re.sub` writes an unmatched group as empty. Text values are written quoted."""
    fields, written = [], []
    for number, column in enumerate(columns):
        bare, quoted = f"b{number}".encode(), f"q{number}".encode()
        if column in TEXT_COLUMNS:
            unquoted, inside = _PADDED_TEXT, _PADDED_QUOTED
            written.append(b'"\\g<' + bare + b">\\g<" + quoted + b'>"')
        else:
            value = VALUE_PATTERNS[column].pattern
            unquoted, inside = rb"(?P<{0}>" + value + rb")", rb'"(?P<{0}>' + value + rb')"'
            written.append(b"\\g<" + bare + b">\\g<" + quoted + b">")
        fields.append(
            b"(?:" + unquoted.replace(b"{0}", bare) + b"|" + inside.replace(b"{0}", quoted) + b")"
        )
    line = b",".join(fields) + re.escape(newline)
    chunk = re.compile(rb"(?:" + line + rb")*")
    return Trimming(chunk, re.compile(line), b",".join(written) + newline)


class CsvError(DealsError):
    """The uploaded file is not a valid deals file; the message says where and why."""


def at_line(number: int, text: str) -> CsvError:
    return CsvError(f"line {number}: {text}")


def value_error(number: int, column: str, value: str, problem: str | None = None) -> CsvError:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return at_line(number, f"{column} {shown!r} {problem or PROBLEMS[column]}")


EMPTY_FILE = "the file is empty"
SAVE_LINE_BREAKS = "save the file with CRLF or LF line breaks (in Excel: CSV UTF-8)"
CR_ONLY = f"line breaks are CR only (old Mac CSV); {SAVE_LINE_BREAKS}"
CR_INSIDE = f"a carriage return (CR) inside the line; {SAVE_LINE_BREAKS}"
DOUBLED_CR = f"the line ends with CR CR LF (a line break written twice); {SAVE_LINE_BREAKS}"
LAST_CR = f"the last line ends with CR, not CRLF or LF; {SAVE_LINE_BREAKS}"
REPEATED_HEADER = "repeats the header line (two files joined?); remove it"
SEPARATOR_LINE = "a 'sep=,' line may only be the first line; remove it"
# A byte-order mark (U+FEFF) belongs only before the header, where it is skipped. Anywhere else
# it is invisible and would make `\ufeffann` a customer other than `ann`: at the start of a
# line it comes from files joined together (each export starts with one), inside a value from
# text pasted together.
BOM_AT_LINE_START = "starts with a byte-order mark (U+FEFF), likely from joining files; remove it"
BOM_IN_VALUE = "contains a byte-order mark (U+FEFF), an invisible character; remove it"
EMPTY_LINE = "empty line"
EMPTY_ROW = "empty row (only commas); empty rows may only follow the last deal"
# Excel's first line naming the separator: `sep=,` (any letter case).
SEPARATOR_DECLARATION = re.compile(rb"(?i)sep=(.?)")
# Where the header belongs, a line starting so is a separator line, however it goes on: a
# header is never valid with `sep=` in its first name.
SEPARATOR_START = re.compile(rb"(?i)sep=")


def no_header(number: int) -> CsvError:
    return at_line(number, "the header is missing")


def header_error(number: int, problems: list[str], hint: str = "") -> CsvError:
    expected = ",".join(COLUMNS)
    return at_line(number, f"header {'; '.join(problems)} (expected {expected}){hint}")


def separator_refused(content: bytes) -> CsvError:
    """Why a first line `sep=...` (without its line break) other than `sep=,` is refused: it
    names another separator, or it is not one character after `sep=` (`sep=,,`, `sep=`)."""
    separator = content[len(b"sep=") :].decode("utf-8", "replace")
    if len(separator) == 1:
        return at_line(
            1,
            f"the file declares {separator!r} as its separator (sep={separator});"
            " save it as comma-separated",
        )
    shown = _short(content.decode("utf-8", "replace"))
    return at_line(
        1, f"{shown!r} is not a valid separator line (Excel writes sep=,); write sep=, or remove it"
    )


def column_name(name: bytes) -> str:
    """A header name as it is matched: trimmed, in lower case (`Customer ` is `customer`)."""
    return name.strip(BLANKS).decode("utf-8").lower()


def line_too_long(number: int, limit: int) -> CsvError:
    return at_line(number, f"longer than {limit} bytes")


def not_utf8(number: int, byte: int) -> CsvError:
    return at_line(number, f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8 CSV")


def value_problem(column: str, value: bytes) -> str | None:
    """Why an unquoted value is not valid for its column, or None when it is."""
    if VALUE_PATTERNS[column].fullmatch(value):
        return None
    if column in _TOO_BIG and _TOO_BIG[column].fullmatch(value):
        return OUT_OF_RANGE[column]
    return PROBLEMS[column]


# Well-formed, only too large: said as such rather than as malformed.
_TOO_BIG = {
    "total": re.compile(rb"\d+(?:\.\d{1,2})?"),
    "quantity": re.compile(rb"0*[1-9]\d*"),
}


def mixed_newlines(number: int, newline: bytes) -> CsvError:
    header_kind = "CRLF" if newline == b"\r\n" else "LF"
    line_kind = "LF" if header_kind == "CRLF" else "CRLF"
    return at_line(
        number, f"ends with {line_kind} but the header with {header_kind} (mixed line endings)"
    )


def check_header(number: int, names: tuple[str, ...], shown: tuple[str, ...], text: str) -> None:
    """Refuse a header that is not the five names (`names` as matched, `shown` as written).

    Linear in the number of names, and the error names at most a few of each kind: a header
    line may hold a million commas, and its error is still one short sentence.
    """
    counts = Counter(names)
    problems = []
    missing = [column for column in COLUMNS if column not in counts]
    if missing:
        problems.append("misses " + ", ".join(missing))
    unknown = [
        written for name, written in zip(names, shown, strict=True) if name and name not in COLUMNS
    ]
    if unknown:
        problems.append("has unknown " + _listed(unknown, lambda name: repr(_short(name))))
    empty = [position for position, name in enumerate(names, start=1) if not name]
    if empty:
        problems.append(_empty_names(empty))
    # An empty name is said as such above, not as repeated.
    repeated = sorted(name for name, count in counts.items() if name and count > 1)
    if repeated:
        problems.append("repeats " + _listed(repeated, _named))
    if problems:
        raise header_error(number, problems, _separator_hint(text))


# The most names of one kind a header error lists; the others are counted.
LISTED_NAMES = 5
Item = TypeVar("Item")


def _listed(items: list[Item], show: Callable[[Item], str]) -> str:
    """The first LISTED_NAMES items as `show` writes them, then how many more there are."""
    listed = ", ".join(show(item) for item in items[:LISTED_NAMES])
    more = len(items) - LISTED_NAMES
    return f"{listed} and {more} more" if more > 0 else listed


def _named(name: str) -> str:
    """A matched name in an error: a column's bare, any other quoted (it may hold commas)."""
    return name if name in COLUMNS else repr(_short(name))


def _empty_names(positions: list[int]) -> str:
    """Empty (or blank) names, by their field number: an empty name shown quoted is unreadable."""
    if len(positions) == 1:
        return f"has an empty name in field {positions[0]}"
    return "has empty names in fields " + _listed(positions, str)


def _separator_hint(text: str) -> str:
    for separator, name in ((";", "semicolon"), ("\t", "tab")):
        if separator in text and "," not in text:
            return f"; the file looks {name}-separated: save it as comma-separated CSV"
    return ""


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
