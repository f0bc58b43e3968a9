"""The three kinds of CRM record and their fields."""

from crmferry.records.fields import DataType, Field
from crmferry.records.types import BIDS, CONTACTS, DATA_TYPES, INVENTORY, get_data_type

__all__ = ["BIDS", "CONTACTS", "DATA_TYPES", "INVENTORY", "DataType", "Field", "get_data_type"]
