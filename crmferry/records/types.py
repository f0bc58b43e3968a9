"""Contacts, inventory and bids: the ProSpaces field names, described once, and registered.

Synonyms are normalised header spellings (see `imports.mapping.normalise_header`)
so that exports of common tools (Outlook, Google Contacts, spreadsheets) map themselves.
"""

from __future__ import annotations

from crmferry.records.fields import DataType, Field, Through
from crmferry.records.links import Link
from crmferry.records.registry import DATA_TYPES

CONTACT_STATUSES = ("active", "inactive", "lead", "prospect", "customer")
BID_STATUSES = ("draft", "pending", "sent", "submitted", "accepted", "rejected", "expired")

CONTACTS = DataType(
    name="contacts",
    label="Contacts",
    table="contacts",
    key_case_insensitive=True,
    search_fields=("name", "email", "company"),
    links=(
        Link(
            "owner",
            fields=("owner_email",),
            target="members",
            key=("email",),
            message="is not a member of this organization",
        ),
    ),
    fields=(
        Field(
            "name",
            "Name",
            required=True,
            composed_from=("first_name", "last_name"),
            synonyms=("full name", "contact name", "display name", "contact"),
        ),
        Field(
            "first_name", "First name", synonyms=("first", "given name", "firstname", "forename")
        ),
        Field("last_name", "Last name", synonyms=("last", "surname", "family name", "lastname")),
        Field(
            "email",
            "Email",
            "email",
            key=True,
            max_length=320,
            synonyms=(
                "e mail",
                "email address",
                "e mail address",
                "e mail 1 value",
                "email 1 value",
                "mail",
                "primary email",
                "e mail 1 address",
            ),
        ),
        Field(
            "phone",
            "Phone",
            "phone",
            max_length=50,
            synonyms=(
                "phone number",
                "telephone",
                "tel",
                "mobile",
                "mobile phone",
                "business phone",
                "primary phone",
                "phone 1 value",
                "cell",
            ),
        ),
        Field(
            "company",
            "Company",
            synonyms=(
                "organization",
                "organisation",
                "organization 1 name",
                "company name",
                "account",
                "account name",
                "employer",
            ),
        ),
        Field("title", "Title", synonyms=("job title", "position", "organization 1 title", "role")),
        Field(
            "address",
            "Address",
            synonyms=(
                "street",
                "street address",
                "business street",
                "address 1 street",
                "address line 1",
                "home street",
                "mailing street",
            ),
        ),
        Field(
            "city",
            "City",
            synonyms=("town", "business city", "address 1 city", "home city", "mailing city"),
        ),
        Field(
            "state",
            "State / Province",
            synonyms=(
                "province",
                "region",
                "state province",
                "business state",
                "address 1 region",
                "home state",
                "county",
            ),
        ),
        Field(
            "postal_code",
            "Postal code",
            max_length=20,
            synonyms=(
                "zip",
                "zip code",
                "postcode",
                "post code",
                "postal",
                "business postal code",
                "address 1 postal code",
                "home postal code",
            ),
        ),
        Field(
            "country",
            "Country",
            synonyms=(
                "country region",
                "business country region",
                "address 1 country",
                "home country region",
                "nation",
            ),
        ),
        Field(
            "status",
            "Status",
            "enum",
            choices=CONTACT_STATUSES,
            default="active",
            synonyms=("contact status", "lifecycle stage", "stage"),
        ),
        Field(
            "notes",
            "Notes",
            max_length=10_000,
            synonyms=("note", "comments", "comment", "description", "remarks"),
        ),
        Field(
            "owner_email",
            "Owner email",
            "email",
            max_length=320,
            synonyms=("owner", "contact owner", "assigned to", "owner e mail"),
        ),
    ),
)

INVENTORY = DataType(
    name="inventory",
    label="Inventory",
    table="inventory",
    search_fields=("sku", "name", "category"),
    fields=(
        Field(
            "sku",
            "SKU",
            required=True,
            key=True,
            max_length=100,
            synonyms=(
                "item",
                "item #",
                "item number",
                "item no",
                "item code",
                "product code",
                "part number",
                "part #",
                "part no",
                "code",
                "stock code",
            ),
        ),
        Field(
            "name",
            "Name",
            required=True,
            synonyms=("item name", "product", "product name", "title"),
        ),
        Field(
            "description",
            "Description",
            max_length=10_000,
            synonyms=("item description", "details", "product description"),
        ),
        Field("category", "Category", synonyms=("type", "group", "product category", "class")),
        Field(
            "quantity",
            "Quantity",
            "integer",
            default="0",
            sql_type="integer",
            synonyms=("qty", "quantity on hand", "on hand", "qty on hand", "stock", "in stock"),
        ),
        Field(
            "quantity_on_order",
            "Quantity on order",
            "integer",
            sql_type="integer",
            synonyms=("on order", "qty on order", "ordered"),
        ),
        Field(
            "unit_price",
            "Unit price",
            "decimal",
            sql_type="numeric(12,2)",
            synonyms=("price", "sale price", "sales price", "selling price", "list price"),
        ),
        Field(
            "cost",
            "Cost",
            "decimal",
            sql_type="numeric(12,2)",
            synonyms=("unit cost", "purchase price", "cost price"),
        ),
        Field(
            "unit_of_measure",
            "Unit of measure",
            default="ea",
            max_length=20,
            synonyms=("uom", "unit", "units", "measure"),
        ),
    ),
)

BIDS = DataType(
    name="bids",
    label="Bids",
    table="bids",
    search_fields=("bid_number", "title", "contact_email"),
    links=(
        Link(
            "contact",
            fields=("contact_email",),
            target="contacts",
            key=("email",),
            message="matches no contact of this organization",
            id_column="contact_id",
        ),
    ),
    fields=(
        Field(
            "bid_number",
            "Bid number",
            required=True,
            key=True,
            max_length=100,
            synonyms=(
                "bid",
                "bid #",
                "bid no",
                "quote number",
                "quote #",
                "quote no",
                "number",
                "reference",
                "proposal number",
            ),
        ),
        Field(
            "title",
            "Title",
            required=True,
            synonyms=("bid title", "name", "subject", "project", "quote title"),
        ),
        Field(
            "contact_email",
            "Contact email",
            "email",
            max_length=320,
            synonyms=("contact", "customer email", "client email", "email", "e mail"),
        ),
        Field(
            "amount",
            "Amount",
            "decimal",
            required=True,
            sql_type="numeric(12,2)",
            synonyms=("total", "value", "bid amount", "price", "quote amount"),
        ),
        Field(
            "currency",
            "Currency",
            "currency",
            max_length=3,
            organization_default="currency",
            synonyms=("currency code", "ccy"),
        ),
        Field(
            "status",
            "Status",
            "enum",
            choices=BID_STATUSES,
            default="pending",
            synonyms=("bid status", "stage", "state"),
        ),
        Field(
            "valid_until",
            "Valid until",
            "date",
            sql_type="date",
            synonyms=(
                "expires",
                "expiry",
                "expiry date",
                "expiration date",
                "valid through",
                "valid to",
                "expires on",
            ),
        ),
        Field(
            "description", "Description", max_length=10_000, synonyms=("details", "notes", "scope")
        ),
    ),
    extra_export_fields=(
        Field("contact_name", "Contact name", through=Through("contact", "name")),
    ),
)

# The lines of a bid (a quote's lines): one line per bid and line number, each naming
# its bid, and optionally an inventory item, by their natural keys.
BID_ITEMS = DataType(
    name="bid_items",
    label="Bid items",
    table="bid_items",
    search_fields=("bid_number", "sku", "description"),
    links=(
        Link(
            "bid",
            fields=("bid_number",),
            target="bids",
            key=("bid_number",),
            message="matches no bid of this organization",
            id_column="bid_id",
            included_as="items",
            rollup=("amount", "line_total"),
        ),
        Link(
            "item",
            fields=("sku",),
            target="inventory",
            key=("sku",),
            message="matches no inventory item of this organization",
            id_column="inventory_id",
        ),
    ),
    fields=(
        Field(
            "bid_number",
            "Bid number",
            required=True,
            key=True,
            max_length=100,
            synonyms=("bid", "bid #", "bid no", "quote number", "quote #", "quote no", "quote"),
        ),
        Field(
            "line_number",
            "Line number",
            "integer",
            required=True,
            key=True,
            sql_type="integer",
            minimum="1",
            synonyms=("line", "line #", "line no", "position", "pos", "seq", "sequence"),
        ),
        Field(
            "sku",
            "SKU",
            max_length=100,
            synonyms=("item", "item #", "item number", "item code", "product code", "part number"),
        ),
        Field(
            "description",
            "Description",
            max_length=10_000,
            synonyms=("item description", "details", "product", "product name", "item name"),
        ),
        Field(
            "quantity",
            "Quantity",
            "decimal",
            default="1",
            sql_type="numeric(12,2)",
            synonyms=("qty", "units", "count"),
        ),
        Field(
            "unit_price",
            "Unit price",
            "decimal",
            sql_type="numeric(12,2)",
            synonyms=("price", "rate", "unit cost", "list price", "sale price"),
        ),
        Field(
            "discount_percent",
            "Discount %",
            "decimal",
            sql_type="numeric(5,2)",
            minimum="0",
            maximum="100",
            synonyms=("discount", "disc", "disc %", "discount pct", "discount percentage"),
        ),
        Field("line_total", "Line total", "decimal", sql_type="numeric(14,2)", computed=True),
    ),
    extra_export_fields=(
        Field("bid_title", "Bid title", through=Through("bid", "title")),
        Field("item_name", "Item name", through=Through("item", "name")),
    ),
)

for _data_type in (CONTACTS, INVENTORY, BIDS, BID_ITEMS):
    DATA_TYPES.register(_data_type)
