"""Reading a customer list: the delimiter from the header line (Excel's `sep=`, tabs), UTF-16,
Latin-1 past cp1252, and every header alias in the form it is matched. Pure: bytes in, rows out."""

from __future__ import annotations

import pytest

from bot.domain.import_file import FIELDS, HEADER_CHARS, delimiter_of, fold_header, read_csv


def test_the_delimiter_comes_from_the_header_not_the_rows() -> None:
    # The rows are full of commas (names, amounts); the header says `;`.
    data = "nom;téléphone;référence\n" + "Dupré, Éloïse;0610203040;1,5,7,9\n" * 50
    file = read_csv(data.encode())
    assert file.delimiter == ";"
    assert file.rows[0].values == {
        "name": "Dupré, Éloïse",
        "phone": "0610203040",
        "reference": "1,5,7,9",
    }


def test_delimiters_inside_quoted_header_names_do_not_count() -> None:
    data = b'"name; full","phone; mobile",email\n"Ann","0610203040",a@example.fr\n'
    assert delimiter_of(data.decode()) == (",", False)


def test_an_excel_sep_line_names_the_delimiter_and_lines_keep_their_numbers() -> None:
    data = b"sep=;\nname;phone\nAnn, Jr;0610203040\n\nBob;0611111111\n"
    file = read_csv(data)
    assert file.delimiter == ";" and file.fields == ("name", "phone")
    assert [(r.line, r.values["name"]) for r in file.rows] == [(3, "Ann, Jr"), (5, "Bob")]


def test_a_tab_separated_file_in_utf16_as_excel_saves_unicode_text() -> None:
    text = "Namn\tTelefon\tE-post\nÅsa Ek\t070-123 45 67\tasa@example.se\n"
    file = read_csv(text.encode("utf-16"))  # with its byte order mark
    assert (file.encoding, file.delimiter) == ("utf-16", "\t")
    assert file.rows[0].values == {
        "name": "Åsa Ek",
        "phone": "070-123 45 67",
        "email": "asa@example.se",
    }
    big_endian = b"\xfe\xff" + "name,phone\nBo,0610203040\n".encode("utf-16-be")
    assert read_csv(big_endian).rows[0].values["name"] == "Bo"


def test_bytes_cp1252_leaves_undefined_are_read_as_latin1() -> None:
    data = b"name;phone\nJos\x81 \xe9;0610203040\n"  # 0x81: no cp1252 character
    file = read_csv(data)
    assert file.encoding == "latin-1"
    assert file.rows[0].values["name"] == "Jos\x81 é"


def test_broken_utf16_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="UTF-16"):
        read_csv(b"\xff\xfe" + "name,phone\n".encode("utf-16-le") + b"\x00\xd8")


def test_order_id_and_every_alias_are_written_as_they_are_matched() -> None:
    assert read_csv(b"Order_ID,phone\nA-1,0610203040\n").rows[0].values["reference"] == "A-1"
    for aliases in FIELDS.values():
        assert all(fold_header(alias) == alias for alias in aliases)


def test_a_single_column_and_a_header_past_the_bound() -> None:
    assert read_csv(b"phone\n0610203040\n").delimiter == ","
    # Only the first HEADER_CHARS of a (crafted) header are looked at.
    line = "a;" * HEADER_CHARS + "," * (HEADER_CHARS * 2)
    assert delimiter_of(line) == (";", False)
