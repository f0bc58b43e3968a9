"""Write the reading golden files of tests/imports/files/ (run once; outputs are committed).

    .venv/bin/python tests/imports/make_reading_golden.py

Broken files, legacy encodings, preambles and workbooks, each laid out as the tool
that writes it lays out its export (header names and order, line endings, encoding).
The text files are byte-for-byte reproducible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

FILES = Path(__file__).parent / "files"

# HubSpot's contacts export (a subset of its columns, in its order), CRLF, UTF-8.
HUBSPOT_HEADER = "Record ID,First Name,Last Name,Email,Phone Number,Company Name,City"


def _crlf(lines: list[str]) -> str:
    return "".join(line + "\r\n" for line in lines)


def broken_files() -> None:
    # Row 3's company opens a quote it never closes; row 5 quotes a cell properly.
    (FILES / "hubspot_unclosed_quote.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                '102,Bob,Stone,bob@example.com,+1 555 0100,"Stone & Sons, Ltd,Leeds',
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
                '104,Dee,Park,dee@example.com,+1 555 0101,"Park, Dee & Co",Austin',
                "105,Eve,Adams,eve@example.com,+1 555 0102,Adams Inc,Boston",
            ]
        ).encode()
    )
    # The last row's quote is never closed: it reaches the end of the file.
    (FILES / "hubspot_unclosed_quote_at_end.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                '102,Bob,Stone,bob@example.com,+1 555 0100,"Stone & Sons,Leeds',
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
            ]
        ).encode()
    )
    # An unquoted comma in a company name: row 3 has one cell more than the header.
    (FILES / "hubspot_extra_cells.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                "102,Bob,Stone,bob@example.com,+1 555 0100,Stone & Sons, Ltd,Leeds",
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
            ]
        ).encode()
    )
    # A database dump's empty value written as a NUL byte: row 3's phone.
    (FILES / "hubspot_nul_cell.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                "102,Bob,Stone,bob@example.com,\x00,Stone and Sons,Leeds",
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
            ]
        ).encode()
    )


def encoded_files() -> None:
    # Excel on Chinese Windows saves "CSV (逗号分隔)" in the ANSI code page: GBK/GB18030.
    (FILES / "gb18030_contacts.csv").write_bytes(
        _crlf(
            [
                "姓名,电子邮件地址,手机,公司,职务,城市,备注",
                "王小明,wang.xm@example.cn,138 0013 8000,北京数据科技有限公司,销售经理,北京,老客户",
                "李华,li.hua@example.cn,139 0139 0000,上海贸易公司,采购主管,上海,展会认识",
                "张伟,zhang.wei@example.cn,137 0137 0000,深圳电子厂,总经理,深圳,需要报价",
                "陈静,chen.jing@example.cn,136 0136 0000,广州物流,客户经理,广州,",
            ]
        ).encode("gb18030")
    )
    # Outlook on Japanese Windows exports contacts in Shift-JIS (cp932); three rows only.
    (FILES / "shiftjis_three_rows.csv").write_bytes(
        _crlf(
            [
                "姓,名,電子メール アドレス,会社,部署,役職",
                "山田,太郎,taro.yamada@example.jp,株式会社サンプル,営業部,部長",
                "佐藤,花子,hanako.sato@example.jp,テスト商事,総務課,主任",
            ]
        ).encode("cp932")
    )
    # Excel for Mac's "CSV (Macintosh)": Mac Roman, CR line endings.
    (FILES / "macroman_euro.csv").write_bytes(
        "".join(
            line + "\r"
            for line in [
                "Name,Email,Company,Notes",
                "René Lefèvre,rene@example.fr,Café Crème,Budget 5 000 €",
                "Zoë Brontë,zoe@example.co.uk,Bröntë & Co,Paid € 120 – thanks",
                "Jürgen Groß,juergen@example.de,Straße AG,Øresund office",
            ]
        ).encode("mac-roman")
    )
    # FileMaker writes a line break inside a field as a vertical tab (0x0B).
    (FILES / "filemaker_vertical_tab.csv").write_bytes(
        _crlf(
            [
                '"First Name","Last Name","Email","Address"',
                '"Ada","Lovelace","ada@example.com","12 St James\x0bLondon"',
                '"Bob","Stone","bob@example.com","1 Main St\x0bFlat 2\x0bLeeds"',
                '"Cid","Moreno","cid@example.com","Calle Mayor 3"',
            ]
        ).encode()
    )


def preamble_files() -> None:
    # LinkedIn's Connections.csv (Settings → Data privacy → Get a copy of your data).
    (FILES / "linkedin_connections.csv").write_bytes(
        "".join(
            line + "\n"
            for line in [
                "Notes:",
                '"When exporting your connection data, you may notice that some of the email '
                "addresses are missing. You will only see email addresses for connections who "
                "have allowed their connections to see or download their email address using "
                "this setting https://www.linkedin.com/psettings/privacy/email. You can learn "
                'more here https://www.linkedin.com/help/linkedin/answer/261"',
                "",
                "First Name,Last Name,URL,Email Address,Company,Position,Connected On",
                "Ada,Lovelace,https://www.linkedin.com/in/ada-lovelace,ada@example.com,"
                "Analytical Engines,Mathematician,02 Dec 2026",
                "Grace,Hopper,https://www.linkedin.com/in/grace-hopper,,US Navy,"
                "Rear Admiral,15 Nov 2026",
                "Alan,Turing,https://www.linkedin.com/in/alan-turing,alan@example.co.uk,"
                '"University of Manchester, Computing Lab",Reader,01 Oct 2026',
            ]
        ).encode()
    )
    # A CRM report exported as CSV: its title and run date above the table.
    (FILES / "report_title_lines.csv").write_bytes(
        _crlf(
            [
                '"Contacts by Account"',
                '"As of 02/12/2026 09:14 · Ada Admin"',
                '""',
                '"First Name","Last Name","Title","Account Name","Email","Phone","Mailing City"',
                '"Ada","Lovelace","Mathematician","Analytical Engines","ada@example.com",'
                '"+44 20 7946 0000","London"',
                '"Bob","Stone","Buyer","Stone & Sons","bob@example.com","+1 555 0100","Leeds"',
            ]
        ).encode()
    )
    # A Salesforce report exported as CSV: title lines, the table, then after a blank line
    # the report's footer (its totals, confidentiality line, copyright, who ran it, the
    # company), every footer line a one-cell row.
    (FILES / "salesforce_report_footer.csv").write_bytes(
        _crlf(
            [
                '"Contacts with Accounts"',
                '"As of 02/12/2026 09:14 · Ada Admin"',
                '""',
                '"First Name","Last Name","Title","Account Name","Email","Phone","Mailing City"',
                '"Ada","Lovelace","Mathematician","Analytical Engines","ada@example.com",'
                '"+44 20 7946 0000","London"',
                '"Bob","Stone","Buyer","Stone & Sons","","+1 555 0100","Leeds"',
                '"Grace","Hopper","Rear Admiral","US Navy","grace@example.com","","Arlington"',
                '""',
                '"Grand Totals (3 records)"',
                '""',
                '"Confidential Information - Do Not Distribute"',
                '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."',
                '"Generated By:  Ada Admin  02/12/2026 09:14"',
                '"Analytical Engines Ltd"',
            ]
        ).encode()
    )


# A legacy CRM's Excel export: a hidden lookup sheet first (as Access and ACT! exports
# keep their value lists), the contacts, and a second visible sheet.
WORKBOOK_HEADER = ["Contact ID", "First Name", "Last Name", "E-mail", "Zip", "Created", "Amount"]
WORKBOOK_ROWS = [
    ["00042", "Ada", "Lovelace", "ada@example.com", "02134", dt.date(2026, 3, 1), 1234.5],
    ["00043", "Bob", "Stone", "bob@example.com", "00501", dt.date(2025, 12, 31), 0.1],
    ["00044", "Cid", "Moreno", "cid@example.com", "28013", dt.date(2026, 1, 15), 99],
]
LOOKUP_ROWS = [["Status"], ["lead"], ["customer"]]
NOTES_ROWS = [["Note", "Author"], ["Imported from the old CRM", "Ada"]]


def xls_workbook() -> None:
    import xlwt  # type: ignore[import-untyped]  # test-only: writes Excel 97-2003

    book = xlwt.Workbook(encoding="utf-8")
    lookups = book.add_sheet("Lookups")
    lookups.visibility = 1  # hidden
    contacts = book.add_sheet("Contacts")
    notes = book.add_sheet("Notes")
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    text = xlwt.easyxf(num_format_str="@")
    for sheet, rows in ((lookups, LOOKUP_ROWS), (notes, NOTES_ROWS)):
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    for c, name in enumerate(WORKBOOK_HEADER):
        contacts.write(0, c, name)
    for r, row in enumerate(WORKBOOK_ROWS, start=1):
        for c, value in enumerate(row):
            style = (
                dates if isinstance(value, dt.date) else text if isinstance(value, str) else None
            )
            contacts.write(r, c, value, style) if style else contacts.write(r, c, value)
    book.set_active_sheet(1)
    book.save(str(FILES / "legacy_contacts.xls"))


def ods_workbook() -> None:
    from odf.opendocument import OpenDocumentSpreadsheet  # test-only: writes ODS
    from odf.style import Style, TableProperties
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    hidden = Style(name="hidden", family="table")
    hidden.addElement(TableProperties(display="false"))
    doc.automaticstyles.addElement(hidden)

    def cell(value: object) -> TableCell:
        if isinstance(value, dt.date):
            made = TableCell(valuetype="date", datevalue=value.isoformat())
        elif isinstance(value, int | float):
            made = TableCell(valuetype="float", value=str(value))
        else:
            made = TableCell(valuetype="string")
        made.addElement(P(text=value.isoformat() if isinstance(value, dt.date) else str(value)))
        return made

    def table(name: str, rows: list[list[object]], style: Style | None = None) -> Table:
        made = Table(name=name, stylename=style) if style else Table(name=name)
        for row in rows:
            line = TableRow()
            for value in row:
                line.addElement(cell(value))
            made.addElement(line)
        return made

    doc.spreadsheet.addElement(table("Lookups", list(LOOKUP_ROWS), hidden))
    rows: list[list[object]] = [list(WORKBOOK_HEADER), *WORKBOOK_ROWS]
    doc.spreadsheet.addElement(table("Contacts", rows))
    doc.spreadsheet.addElement(table("Notes", list(NOTES_ROWS)))
    doc.save(str(FILES / "legacy_contacts.ods"))


def main() -> None:
    broken_files()
    encoded_files()
    preamble_files()
    xls_workbook()
    ods_workbook()


if __name__ == "__main__":
    main()
