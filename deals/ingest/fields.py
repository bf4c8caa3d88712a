"""RFC 4180 field splitting for one line, used where a line must be explained, not just matched."""

QUOTE = ord('"')
UNTERMINATED = "unterminated quoted value (line breaks inside values are not supported)"
STRAY_QUOTE = 'a quote inside an unquoted value (quote the whole value and double the ")'

COMMA = ord(",")


class FieldError(Exception):
    def __init__(self, index: int, problem: str):
        super().__init__(problem)
        self.index = index
        self.problem = problem

    def describe(self, columns: tuple[str, ...]) -> str:
        name = columns[self.index] if self.index < len(columns) else f"field {self.index + 1}"
        return f"{name}: {self.problem}"


def split_fields(content: bytes) -> list[bytes]:
    """The unquoted values of one line (without its line break)."""
    if b'"' not in content:  # nothing is quoted: one C-level split, however many fields
        return content.split(b",")
    fields: list[bytes] = []
    position = 0
    while True:
        if position < len(content) and content[position] == QUOTE:
            value, position = _quoted(content, position, len(fields))
        else:
            value, position = _unquoted(content, position, len(fields))
        fields.append(value)
        if position >= len(content):
            return fields
        position += 1  # the comma


def _quoted(content: bytes, start: int, index: int) -> tuple[bytes, int]:
    parts = []
    position = start + 1
    while True:
        closing = content.find(b'"', position)
        if closing < 0:
            raise FieldError(index, UNTERMINATED)
        parts.append(content[position:closing])
        if content[closing + 1 : closing + 2] != b'"':
            break
        parts.append(b'"')
        position = closing + 2
    end = closing + 1
    if end < len(content) and content[end] != COMMA:
        raise FieldError(index, "text after the closing quote")
    return b"".join(parts), end


def _unquoted(content: bytes, start: int, index: int) -> tuple[bytes, int]:
    comma = content.find(b",", start)
    end = len(content) if comma < 0 else comma
    value = content[start:end]
    if b'"' in value:
        raise FieldError(index, STRAY_QUOTE)
    return value, end
