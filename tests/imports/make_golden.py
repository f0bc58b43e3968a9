"""Write the golden files of tests/imports/files/ (run once; the outputs are committed).

    .venv/bin/python tests/imports/make_golden.py

Each file is small and stands for a kind of file people really upload. The
text files are byte-for-byte reproducible; the XLSX differs only in ZIP
timestamps from one run to the next.
"""

from __future__ import annotations

import codecs
import datetime as dt
import zipfile
from pathlib import Path

import openpyxl

FILES = Path(__file__).parent / "files"

CONTACT_ROWS = [
    ["Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "London"],
    ["José Núñez", "jose@example.es", "+34 954 000 000", "Sevilla"],
    ["Zoë Müller", "zoe@example.de", "+49 30 000000", "Zürich"],
]

OUTLOOK_HEADER = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Title",
    "Company",
    "E-mail Address",
    "Business Phone",
    "Mobile Phone",
    "Home Phone",
    "Business Street",
    "Business City",
    "Business State",
    "Business Postal Code",
    "Business Country/Region",
    "Notes",
]
OUTLOOK_ROWS = [
    [
        "Grace",
        "B.",
        "Hopper",
        "Rear Admiral",
        "US Navy",
        "grace@navy.example",
        "(202) 555-0100",
        "(202) 555-0199",
        "",
        "1 Navy Way",
        "Arlington",
        "VA",
        "22202",
        "United States",
        "Invented the compiler",
    ],
    [
        "Émilie",
        "",
        "du Châtelet",
        "Physicist",
        "Académie",
        "emilie@example.fr",
        "+33 1 00 00 00 00",
        "",
        "",
        "Rue de Cirey",
        "Paris",
        "Île-de-France",
        "75001",
        "France",
        "",
    ],
]

GOOGLE_HEADER = [
    "Name",
    "Given Name",
    "Additional Name",
    "Family Name",
    "E-mail 1 - Type",
    "E-mail 1 - Value",
    "Phone 1 - Type",
    "Phone 1 - Value",
    "Organization 1 - Name",
    "Organization 1 - Title",
    "Address 1 - Street",
    "Address 1 - City",
    "Address 1 - Region",
    "Address 1 - Postal Code",
    "Address 1 - Country",
]
GOOGLE_ROWS = [
    [
        "Alan Turing",
        "Alan",
        "Mathison",
        "Turing",
        "* Work",
        "alan@example.co.uk",
        "Mobile",
        "+44 161 000 0000",
        "University of Manchester",
        "Reader",
        "Oxford Road",
        "Manchester",
        "England",
        "M13 9PL",
        "United Kingdom",
    ],
]


def text(rows: list[list[str]], delimiter: str, newline: str = "\r\n") -> str:
    """Rows joined as a CSV writer would (only what these files need: no quoting)."""
    return "".join(delimiter.join(row) + newline for row in rows)


def write_text_files() -> None:
    contacts = [["Name", "Email", "Phone", "City"], *CONTACT_ROWS]
    (FILES / "utf8_comma.csv").write_bytes(text(contacts, ",", "\n").encode("utf-8"))
    inventory = [
        ["SKU", "Name", "Qty", "Unit Price"],
        ["A-100", "Schraube M4 × 20", "1200", "0,15"],
        ["B-200", "Mutter ÄÖÜ", "800", "0,05"],
    ]
    (FILES / "utf8_bom_semicolon.csv").write_bytes(
        b"\xef\xbb\xbf" + text(inventory, ";").encode("utf-8")
    )
    # Excel's "Unicode Text": UTF-16 LE with its byte-order mark, tabs, CRLF.
    excel_unicode = [*contacts, ["李小龍", "lee@example.hk", "+852 0000", "香港"]]
    (FILES / "utf16le_bom_tab.txt").write_bytes(
        codecs.BOM_UTF16_LE + text(excel_unicode, "\t").encode("utf-16-le")
    )
    (FILES / "utf16be_bom.csv").write_bytes(b"\xfe\xff" + text(contacts, ",").encode("utf-16-be"))
    legacy = [
        ["First Name", "Last Name", "City", "Notes"],
        ["José", "Müller", "Zürich", "Prix: 5 € – “très bien”"],
        ["Niño", "Peña", "Málaga", "Señor Façade"],
        ["Björn", "Ångström", "Göteborg", "Kaffee für 3 €"],
    ]
    (FILES / "cp1252_accents.csv").write_bytes(text(legacy, ",").encode("cp1252"))
    pipe = [["sku", "name", "qty"], ["P-1", "Widget", "5"], ["P-2", "Gadget", "7"]]
    (FILES / "pipe.txt").write_bytes(text(pipe, "|", "\n").encode("utf-8"))
    quoted = (
        "Name,Notes,Amount\r\n"
        '"Smith, John","He said ""hello""\r\nthen left",10\r\n'
        '"O\'Brien; Pat","a|b\tc",20\r\n'
        '"Line\nbreak",,30\r\n'
    )
    (FILES / "quoted.csv").write_bytes(quoted.encode("utf-8"))
    (FILES / "outlook_contacts.csv").write_bytes(
        text([OUTLOOK_HEADER, *OUTLOOK_ROWS], ",").encode("utf-8")
    )
    (FILES / "google_contacts.csv").write_bytes(
        text([GOOGLE_HEADER, *GOOGLE_ROWS], ",").encode("utf-8")
    )


def write_workbook() -> None:
    """Inventory with the value types a sheet holds. openpyxl stores no cached value
    for a formula, so the `=C2*D2` cells read back as "" (Excel-saved files carry one)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Stock"
    sheet.append(["SKU", "Name", "Qty", "Unit Price", "Total", "Received", "Active"])
    sheet.append(["A-100", "Bolt", 12, 0.1 + 0.2, "=C2*D2", dt.date(2024, 3, 1), True])
    sheet.append(["B-200", "Nut", 3.0, 19.99, "=C3*D3", dt.datetime(2024, 3, 2, 14, 30), False])
    sheet.append([])  # a blank row: skipped, but row 5 keeps its number
    sheet.append(["C-300", "Washer", None, 1234567.5, None, None, None])
    workbook.properties.created = workbook.properties.modified = dt.datetime(2024, 1, 1)
    workbook.save(FILES / "inventory.xlsx")


def write_binary_files() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    (FILES / "not_text.png").write_bytes(png)
    with zipfile.ZipFile(FILES / "not_xlsx.zip", "w") as archive:
        archive.writestr(zipfile.ZipInfo("contacts.csv", (2024, 1, 1, 0, 0, 0)), "Name\nAda\n")


def main() -> None:
    FILES.mkdir(exist_ok=True)
    write_text_files()
    write_workbook()
    write_binary_files()


if __name__ == "__main__":
    main()
