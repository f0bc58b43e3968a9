"""Write the CRM tools' contact exports of tests/imports/files/ (outputs are committed).

    .venv/bin/python tests/imports/make_tool_exports.py

Each file has the header layout its tool really writes (column names and order, as
each tool's export documents and ships them), quoting and line endings as the tool
writes them, and a few rows with the values those tools hold: owners as people's
names, HubSpot lifecycle stages, Zoho lead statuses, Outlook's salutation beside its
job title, contacts without an e-mail. The members the owners name are created by
the tests (`OWNERS`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

FILES = Path(__file__).parent / "files"

# name → e-mail of the members the exports' owner columns name
OWNERS = {"Jane Smith": "jane.smith@ferry.example", "Raj Patel": "raj.patel@ferry.example"}

OUTLOOK_HEADER = [
    "Title",
    "First Name",
    "Middle Name",
    "Last Name",
    "Suffix",
    "Company",
    "Department",
    "Job Title",
    "Business Street",
    "Business Street 2",
    "Business Street 3",
    "Business City",
    "Business State",
    "Business Postal Code",
    "Business Country/Region",
    "Home Street",
    "Home Street 2",
    "Home Street 3",
    "Home City",
    "Home State",
    "Home Postal Code",
    "Home Country/Region",
    "Other Street",
    "Other Street 2",
    "Other Street 3",
    "Other City",
    "Other State",
    "Other Postal Code",
    "Other Country/Region",
    "Assistant's Phone",
    "Business Fax",
    "Business Phone",
    "Business Phone 2",
    "Callback",
    "Car Phone",
    "Company Main Phone",
    "Home Fax",
    "Home Phone",
    "Home Phone 2",
    "ISDN",
    "Mobile Phone",
    "Other Fax",
    "Other Phone",
    "Pager",
    "Primary Phone",
    "Radio Phone",
    "TTY/TDD Phone",
    "Telex",
    "Account",
    "Anniversary",
    "Assistant's Name",
    "Billing Information",
    "Birthday",
    "Business Address PO Box",
    "Categories",
    "Children",
    "Directory Server",
    "E-mail Address",
    "E-mail Type",
    "E-mail Display Name",
    "E-mail 2 Address",
    "E-mail 2 Type",
    "E-mail 2 Display Name",
    "E-mail 3 Address",
    "E-mail 3 Type",
    "E-mail 3 Display Name",
    "Gender",
    "Government ID Number",
    "Hobby",
    "Home Address PO Box",
    "Initials",
    "Internet Free Busy",
    "Keywords",
    "Language",
    "Location",
    "Manager's Name",
    "Mileage",
    "Notes",
    "Office Location",
    "Organizational ID Number",
    "Other Address PO Box",
    "Priority",
    "Private",
    "Profession",
    "Referred By",
    "Sensitivity",
    "Spouse",
    "User 1",
    "User 2",
    "User 3",
    "User 4",
    "Web Page",
]

GOOGLE_HEADER = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Phonetic First Name",
    "Phonetic Middle Name",
    "Phonetic Last Name",
    "Name Prefix",
    "Name Suffix",
    "Nickname",
    "File As",
    "Organization Name",
    "Organization Title",
    "Organization Department",
    "Birthday",
    "Notes",
    "Photo",
    "Labels",
    "E-mail 1 - Label",
    "E-mail 1 - Value",
    "E-mail 2 - Label",
    "E-mail 2 - Value",
    "Phone 1 - Label",
    "Phone 1 - Value",
    "Phone 2 - Label",
    "Phone 2 - Value",
    "Address 1 - Label",
    "Address 1 - Formatted",
    "Address 1 - Street",
    "Address 1 - City",
    "Address 1 - PO Box",
    "Address 1 - Region",
    "Address 1 - Postal Code",
    "Address 1 - Country",
    "Address 1 - Extended Address",
    "Website 1 - Label",
    "Website 1 - Value",
]

HUBSPOT_HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Contact owner",
    "Lifecycle Stage",
    "Lead Status",
    "Company Name",
    "Job Title",
    "Street Address",
    "City",
    "State/Region",
    "Postal Code",
    "Country/Region",
    "Create Date",
    "Last Activity Date",
    "Marketing contact status",
]

SALESFORCE_REPORT_HEADER = [
    "Contact Owner",
    "Salutation",
    "First Name",
    "Last Name",
    "Title",
    "Account Name",
    "Mailing Street",
    "Mailing City",
    "Mailing State/Province",
    "Mailing Zip/Postal Code",
    "Mailing Country",
    "Phone",
    "Mobile",
    "Email",
    "Lead Source",
    "Created Date",
]

DATA_LOADER_HEADER = [
    "Id",
    "AccountId",
    "LastName",
    "FirstName",
    "Salutation",
    "Name",
    "MailingStreet",
    "MailingCity",
    "MailingState",
    "MailingPostalCode",
    "MailingCountry",
    "Phone",
    "MobilePhone",
    "Email",
    "Title",
    "Department",
    "LeadSource",
    "OwnerId",
    "Description",
    "CreatedDate",
]

ZOHO_HEADER = [
    "Record Id",
    "Owner",
    "First Name",
    "Last Name",
    "Company",
    "Title",
    "Email",
    "Phone",
    "Mobile",
    "Lead Source",
    "Lead Status",
    "Street",
    "City",
    "State",
    "Zip Code",
    "Country",
    "Description",
    "Created Time",
]

PIPEDRIVE_HEADER = [
    "Person - ID",
    "Person - Name",
    "Person - First name",
    "Person - Last name",
    "Person - Label",
    "Person - Organization",
    "Person - Email - Work",
    "Person - Email - Home",
    "Person - Phone - Work",
    "Person - Phone - Mobile",
    "Person - Owner",
    "Organization - Name",
]

LINKEDIN_PREAMBLE = (
    "Notes:\r\n"
    '"When exporting your connection data, you may notice that some of the email '
    "addresses are missing. You will only see email addresses for connections who have "
    "allowed their connections to see or download their email address using this setting "
    "https://www.linkedin.com/psettings/privacy/email. You can learn more about this here: "
    'https://www.linkedin.com/help/linkedin/answer/261"\r\n'
    "\r\n"
)
LINKEDIN_HEADER = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position",
                   "Connected On"]  # fmt: skip


def row(header: list[str], **cells: str) -> list[str]:
    """A row of `header` with the given cells (by header) and the rest empty."""
    unknown = set(cells) - set(header)
    assert not unknown, unknown
    return [cells.get(h, "") for h in header]


def table(header: list[str], rows: list[list[str]], quote_all: bool = False) -> str:
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    writer = csv.writer(out, quoting=quoting, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def outlook() -> str:
    h = OUTLOOK_HEADER
    rows = [
        row(h, **{"Title": "Dr.", "First Name": "Grace", "Middle Name": "B.",
                  "Last Name": "Hopper", "Company": "US Navy", "Job Title": "Rear Admiral",
                  "Business Street": "1 Navy Way", "Business City": "Arlington",
                  "Business State": "VA", "Business Postal Code": "22202",
                  "Business Country/Region": "United States",
                  "Business Phone": "(202) 555-0100", "Mobile Phone": "(202) 555-0199",
                  "E-mail Address": "grace@navy.example", "E-mail Type": "SMTP",
                  "E-mail Display Name": "Grace Hopper (grace@navy.example)",
                  "Notes": "Invented the compiler", "Priority": "Normal",
                  "Private": "False", "Sensitivity": "Normal", "Gender": "Unspecified"}),
        row(h, **{"Title": "Ms.", "First Name": "Katherine", "Last Name": "Johnson",
                  "Company": "NASA", "Job Title": "Mathematician",
                  "Business City": "Hampton", "Business State": "VA",
                  "E-mail Address": "katherine@nasa.example", "E-mail Type": "SMTP",
                  "Priority": "Normal", "Private": "False", "Sensitivity": "Normal"}),
        row(h, **{"Title": "Mr.", "First Name": "Alan", "Last Name": "Kay",
                  "Business Phone": "+1 310 555 0142", "Priority": "Normal",
                  "Private": "False", "Sensitivity": "Normal"}),
    ]  # fmt: skip
    return table(h, rows, quote_all=True)


def google() -> str:
    h = GOOGLE_HEADER
    rows = [
        row(h, **{"First Name": "Alan", "Last Name": "Turing", "File As": "Turing, Alan",
                  "Organization Name": "University of Manchester",
                  "Organization Title": "Reader", "Labels": "* myContacts ::: Work",
                  "E-mail 1 - Label": "* Work", "E-mail 1 - Value": "alan@example.co.uk",
                  "Phone 1 - Label": "Mobile", "Phone 1 - Value": "+44 161 555 0100",
                  "Address 1 - Label": "Work",
                  "Address 1 - Formatted": "Oxford Road\nManchester M13 9PL\nUK",
                  "Address 1 - Street": "Oxford Road", "Address 1 - City": "Manchester",
                  "Address 1 - Postal Code": "M13 9PL", "Address 1 - Country": "UK"}),
        row(h, **{"First Name": "Hedy", "Last Name": "Lamarr", "Labels": "* myContacts",
                  "Phone 1 - Label": "Home", "Phone 1 - Value": "+1 213 555 0177",
                  "Notes": "No e-mail: phone only"}),
    ]  # fmt: skip
    return table(h, rows)


def hubspot() -> str:
    h = HUBSPOT_HEADER
    rows = [
        row(h, **{"Record ID": "51", "First Name": "Maria", "Last Name": "Garcia",
                  "Email": "maria@acme.example", "Phone Number": "+1 617 555 0101",
                  "Contact owner": "Jane Smith", "Lifecycle Stage": "Subscriber",
                  "Company Name": "Acme", "Job Title": "CTO",
                  "Street Address": "2 Summer St", "City": "Boston",
                  "State/Region": "Massachusetts", "Postal Code": "02110",
                  "Country/Region": "United States", "Create Date": "2024-03-05 10:21",
                  "Marketing contact status": "Marketing contact"}),
        row(h, **{"Record ID": "52", "First Name": "Wei", "Last Name": "Chen",
                  "Email": "wei@globex.example", "Contact owner": "Raj Patel",
                  "Lifecycle Stage": "Opportunity", "Lead Status": "In Progress",
                  "Company Name": "Globex", "City": "Austin", "State/Region": "Texas",
                  "Create Date": "2024-04-11 16:02",
                  "Marketing contact status": "Non-marketing contact"}),
        row(h, **{"Record ID": "53", "First Name": "Olu", "Last Name": "Adeyemi",
                  "Email": "olu@initech.example", "Contact owner": "Jane Smith",
                  "Lifecycle Stage": "Customer", "State/Region": "Ontario",
                  "Country/Region": "Canada", "Create Date": "2024-05-20 09:00"}),
    ]  # fmt: skip
    return table(h, rows)


def salesforce_report() -> str:
    h = SALESFORCE_REPORT_HEADER
    rows = [
        row(h, **{"Contact Owner": "Raj Patel", "Salutation": "Mr.", "First Name": "Tom",
                  "Last Name": "Ripley", "Title": "VP Sales", "Account Name": "Umbrella",
                  "Mailing Street": "10 Market St", "Mailing City": "San Francisco",
                  "Mailing State/Province": "CA", "Mailing Zip/Postal Code": "94105",
                  "Mailing Country": "USA", "Phone": "(415) 555-0123",
                  "Email": "tom@umbrella.example", "Lead Source": "Web",
                  "Created Date": "3/14/2024"}),
        row(h, **{"Contact Owner": "Jane Smith", "Salutation": "Ms.", "First Name": "Ana",
                  "Last Name": "Silva", "Title": "Buyer", "Account Name": "Initech",
                  "Mailing City": "Lisbon", "Mailing Zip/Postal Code": "1100-148",
                  "Mailing Country": "Portugal", "Email": "ana@initech.example",
                  "Created Date": "4/2/2024"}),
    ]  # fmt: skip
    return table(h, rows, quote_all=True)


def data_loader() -> str:
    h = DATA_LOADER_HEADER
    rows = [
        row(h, **{"Id": "0035g00000ABCdeAAA", "AccountId": "0015g00000XYZabAAA",
                  "LastName": "Ripley", "FirstName": "Tom", "Salutation": "Mr.",
                  "Name": "Tom Ripley", "MailingStreet": "10 Market St",
                  "MailingCity": "San Francisco", "MailingState": "CA",
                  "MailingPostalCode": "94105", "MailingCountry": "USA",
                  "Phone": "(415) 555-0123", "Email": "tom@umbrella.example", "Title": "VP Sales",
                  "OwnerId": "0055g00000OWNaaAAA", "Description": "Met at Dreamforce",
                  "CreatedDate": "2024-03-14T17:02:11.000Z"}),
        row(h, **{"Id": "0035g00000ABCdfAAA", "LastName": "Silva", "FirstName": "Ana",
                  "Name": "Ana Silva", "MailingCity": "Lisbon", "MailingPostalCode": "1100-148",
                  "MailingCountry": "Portugal", "Email": "ana@initech.example",
                  "OwnerId": "0055g00000OWNaaAAA", "CreatedDate": "2024-04-02T08:30:00.000Z"}),
    ]  # fmt: skip
    return table(h, rows, quote_all=True)


def zoho() -> str:
    h = ZOHO_HEADER
    rows = [
        row(h, **{"Record Id": "zcrm_4876876000000333001", "Owner": "Jane Smith",
                  "First Name": "Priya", "Last Name": "Nair", "Company": "Soylent",
                  "Title": "Head of Ops", "Email": "priya@soylent.example",
                  "Phone": "+91 80 5555 0101", "Lead Source": "Trade Show",
                  "Lead Status": "Contacted", "Street": "MG Road", "City": "Bengaluru",
                  "State": "Karnataka", "Zip Code": "560001", "Country": "India",
                  "Created Time": "2024-02-01 11:00:00"}),
        row(h, **{"Record Id": "zcrm_4876876000000333002", "Owner": "Raj Patel",
                  "First Name": "Lars", "Last Name": "Berg", "Company": "Hooli",
                  "Email": "lars@hooli.example", "Lead Status": "Not Contacted",
                  "City": "Oslo", "Country": "Norway", "Created Time": "2024-02-03 15:30:00"}),
        row(h, **{"Record Id": "zcrm_4876876000000333003", "Owner": "Raj Patel",
                  "First Name": "Mei", "Last Name": "Lin", "Company": "Vandelay",
                  "Email": "mei@vandelay.example", "Lead Status": "Pre-Qualified",
                  "Created Time": "2024-02-05 09:45:00"}),
    ]  # fmt: skip
    return table(h, rows)


def pipedrive() -> str:
    h = PIPEDRIVE_HEADER
    rows = [
        row(h, **{"Person - ID": "101", "Person - Name": "Sam Okafor",
                  "Person - First name": "Sam", "Person - Last name": "Okafor",
                  "Person - Label": "Hot lead", "Person - Organization": "Stark Industries",
                  "Person - Email - Work": "sam@stark.example",
                  "Person - Phone - Work": "+44 20 5555 0199", "Person - Owner": "Jane Smith",
                  "Organization - Name": "Stark Industries"}),
        row(h, **{"Person - ID": "102", "Person - Name": "Ines Duarte",
                  "Person - First name": "Ines", "Person - Last name": "Duarte",
                  "Person - Email - Work": "ines@wayne.example",
                  "Person - Email - Home": "ines@home.example",
                  "Person - Phone - Mobile": "+351 91 555 0100", "Person - Owner": "Raj Patel",
                  "Organization - Name": "Wayne Enterprises"}),
    ]  # fmt: skip
    return table(h, rows)


def linkedin() -> str:
    h = LINKEDIN_HEADER
    rows = [
        ["Linus", "Meyer", "https://www.linkedin.com/in/linusmeyer", "", "Initech",
         "Product Manager", "12 Jan 2024"],
        ["Aiko", "Tanaka", "https://www.linkedin.com/in/aikotanaka", "aiko@example.jp",
         "Globex", "Engineer", "03 Feb 2024"],
    ]  # fmt: skip
    return LINKEDIN_PREAMBLE + table(h, rows)


EXPORTS = {
    "outlook_export.csv": outlook,
    "google_contacts_export.csv": google,
    "hubspot_contacts.csv": hubspot,
    "salesforce_report_contacts.csv": salesforce_report,
    "salesforce_dataloader_contacts.csv": data_loader,
    "zoho_leads.csv": zoho,
    "pipedrive_people.csv": pipedrive,
    "linkedin_connections_export.csv": linkedin,
}


def main() -> None:
    for name, make in EXPORTS.items():
        (FILES / name).write_bytes(make().encode("utf-8"))


if __name__ == "__main__":
    main()
