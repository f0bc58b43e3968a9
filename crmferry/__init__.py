"""CRM Ferry: scheduled import and export of contacts, inventory and bids on PostgreSQL."""

__version__ = "0.1.0"
