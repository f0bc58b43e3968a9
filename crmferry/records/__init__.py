"""The kinds of CRM record, described once: fields, keys, links, search, and the registry."""

from crmferry.records.fields import METADATA_FIELDS, TEXT_LIKE, DataType, Field, FieldType, Through
from crmferry.records.links import MEMBERS, Link, LinkTarget
from crmferry.records.registry import (
    DATA_TYPES,
    DataTypeAlreadyRegistered,
    DataTypeInvalid,
    DataTypes,
    get_data_type,
)
from crmferry.records.types import BID_ITEMS, BIDS, CONTACTS, INVENTORY

__all__ = [
    "BIDS",
    "BID_ITEMS",
    "CONTACTS",
    "DATA_TYPES",
    "INVENTORY",
    "MEMBERS",
    "METADATA_FIELDS",
    "TEXT_LIKE",
    "DataType",
    "DataTypeAlreadyRegistered",
    "DataTypeInvalid",
    "DataTypes",
    "Field",
    "FieldType",
    "Link",
    "LinkTarget",
    "Through",
    "get_data_type",
]
