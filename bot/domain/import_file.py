"""Reading a customer list (CSV) into rows: bounded, any usual encoding, `,` `;` or tab, three languages.

Pure: bytes in, rows out. Everything is bounded before it is parsed: the file's size, the
number of rows, each field's length. Header names may be English, French or Swedish
(`name/nom/namn`, `phone/téléphone/telefon`, ...), in any case, with or without accents.
What a row means (a phone, an email, a time) is checked later, by the same rules as the send
form (bot/usecases/inputs.py, bot/usecases/creating.py).
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.errors import InvalidInput

if TYPE_CHECKING:
    from _csv import Reader

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
MAX_FIELD_CHARS = 1_000  # far above any column (the input model refuses past each one's size)
MAX_COLUMNS = 50
SNIFF_CHARS = 64 * 1024  # looked at for NUL bytes (a binary file)
HEADER_CHARS = 64 * 1024  # the most of the first line read for its delimiter
DELIMITERS = (",", ";", "\t")  # on a tie, the first
SEP_LINE_DELIMITERS = ",;\t|"  # what an Excel `sep=X` first line may name

# The fields a row may give, and the header names each is known by (folded: lower case,
# no accents, no spaces, dashes or underscores).
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "customer", "customername", "fullname", "nom", "client", "namn", "kund"),
    "phone": (
        "phone",
        "phonenumber",
        "mobile",
        "mobilephone",
        "telephone",
        "tel",
        "portable",
        "telefon",
        "telefonnummer",
        "mobil",
        "mobilnummer",
    ),
    "email": ("email", "mail", "emailaddress", "courriel", "adressemail", "epost", "epostadress"),
    "reference": ("reference", "ref", "order", "ordernumber", "commande", "referens", "orderid"),
    "type": ("type", "reviewtype", "typeavis", "typ"),
    "language": ("language", "lang", "langue", "sprak", "locale"),
    "send_at": ("sendat", "sendon", "envoyerle", "dateenvoi", "skickas", "skickadatum"),
}
_KNOWN = {alias: field for field, aliases in FIELDS.items() for alias in aliases}


@dataclass(frozen=True)
class ImportRow:
    """One data row: its line in the file (the header is line 1) and the fields it gives."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class ImportFile:
    """A customer list as read: which fields it has, its rows, the columns left unused."""

    fields: tuple[str, ...]
    rows: tuple[ImportRow, ...]
    ignored: tuple[str, ...] = ()
    encoding: str = "utf-8"
    delimiter: str = ","


def fold_header(name: str) -> str:
    """Write a header name the way it is matched: lower case, no accents, no separators."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in bare if c.isalnum())


def decode(data: bytes) -> tuple[str, str]:
    """Return the text of a file and its encoding.

    UTF-16 when it starts with a UTF-16 byte order mark (Excel's "Unicode text"), else UTF-8
    (with or without BOM), else Windows-1252, else Latin-1 (for the five bytes cp1252 leaves
    undefined: every byte is a Latin-1 character).

    :raise InvalidInput: binary (a spreadsheet's own format, an image), or broken UTF-16.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "The file starts as UTF-16 text but can't be read as it. Save it as CSV (UTF-8).",
                field="file",
            ) from exc
    if b"\x00" in data[:SNIFF_CHARS]:
        raise InvalidInput(
            "This is not a CSV file (it looks binary). Save it as CSV (UTF-8) and try again.",
            field="file",
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding.removesuffix("-sig")
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def first_line(text: str, limit: int = HEADER_CHARS) -> str:
    """The file's first line (a quoted field may hold a line break), at most `limit` characters."""
    quoted = False
    for index, char in enumerate(text[:limit]):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            return text[:index]
    return text[:limit]


def delimiter_of(text: str) -> tuple[str, bool]:
    """Pick the delimiter from the header line only; say whether an Excel `sep=X` line gave it.

    Excel's first line `sep=;` names it; else the header's `,`, `;` or tab, counted outside
    quotes, the most frequent (`,` on a tie: a single column has none). Linear in the header
    (csv.Sniffer was quadratic on crafted samples).
    """
    line = first_line(text)
    if line.lower().startswith("sep=") and len(line) == 5 and line[4] in SEP_LINE_DELIMITERS:
        return line[4], True
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # the first of the most frequent
    return best if counts[best] else ",", False


def read_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> ImportFile:
    """Read a customer list: the header, then each non-blank row's known fields.

    :raise InvalidInput: too big, not text, no header with a phone or email column, too many
        rows or columns, a field too long, or broken quoting (the line is named).
    """
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"The file is {len(data) / 1_048_576:.1f} MB: at most "
            f"{MAX_FILE_BYTES // 1_048_576} MB can be imported at once. Split it.",
            field="file",
        )
    text, encoding = decode(data)
    delimiter, sep_line = delimiter_of(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        if sep_line:
            next(reader, None)  # Excel's `sep=;`: the header is the next line
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise InvalidInput("The file is empty: it needs a header row.", field="file")
        columns = _columns(header)
        rows = _rows(reader, columns, max_rows)
    except csv.Error as exc:
        raise InvalidInput(
            f"Line {reader.line_num} can't be read as CSV ({exc}).", field="file"
        ) from None
    fields = tuple(dict.fromkeys(columns.values()))
    ignored = tuple(h.strip()[:40] for i, h in enumerate(header) if i not in columns and h.strip())
    return ImportFile(fields, tuple(rows), ignored, encoding, delimiter)


def _columns(header: list[str]) -> dict[int, str]:
    """Map each known column's position to its field; the first of a field wins."""
    if len(header) > MAX_COLUMNS:
        raise InvalidInput(
            f"The file has {len(header)} columns: at most {MAX_COLUMNS}.", field="file"
        )
    columns: dict[int, str] = {}
    for index, name in enumerate(header):
        field = _KNOWN.get(fold_header(name[:MAX_FIELD_CHARS]))
        if field is not None and field not in columns.values():
            columns[index] = field
    if "phone" not in columns.values() and "email" not in columns.values():
        raise InvalidInput(
            "The header row needs a phone or an email column (like name, phone, email; "
            "nom, téléphone, e-mail; namn, telefon, e-post).",
            field="file",
        )
    return columns


def _rows(reader: Reader, columns: dict[int, str], max_rows: int) -> list[ImportRow]:
    rows: list[ImportRow] = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue  # blank lines, or a spreadsheet's trailing ";;;;"
        if len(rows) >= max_rows:
            raise InvalidInput(
                f"The file has more than {max_rows:,} rows: import it in parts.", field="file"
            )
        values: dict[str, str] = {}
        for index, field in columns.items():
            cell = record[index] if index < len(record) else ""
            if len(cell) > MAX_FIELD_CHARS:
                raise InvalidInput(
                    f"Line {reader.line_num}: the {field} is {len(cell):,} characters long "
                    f"(at most {MAX_FIELD_CHARS:,}).",
                    field="file",
                )
            if cell.strip():
                values[field] = cell.strip()
        rows.append(ImportRow(reader.line_num, values))
    return rows
