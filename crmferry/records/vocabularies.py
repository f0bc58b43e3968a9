"""Other CRMs' names for our enum values: their lifecycle stages, lead and quote statuses.

Each is one tool's list as its exports write it, with the value of ours a CRM user
would choose for each (a "Subscriber" is a lead; an "Opportunity" a prospect). The
suggestion offers the whole list of the tool whose values a column holds as
`options.value_maps`, for the user to check and edit.
"""

from __future__ import annotations

from crmferry.records.fields import Vocabulary

HUBSPOT_LIFECYCLE_STAGES = Vocabulary(
    "HubSpot lifecycle stage",
    (
        ("Subscriber", "lead"),
        ("Lead", "lead"),
        ("Marketing Qualified Lead", "lead"),
        ("Sales Qualified Lead", "prospect"),
        ("Opportunity", "prospect"),
        ("Customer", "customer"),
        ("Evangelist", "customer"),
        ("Other", "active"),
    ),
)

HUBSPOT_LEAD_STATUSES = Vocabulary(
    "HubSpot lead status",
    (
        ("New", "lead"),
        ("Open", "lead"),
        ("In Progress", "prospect"),
        ("Open Deal", "prospect"),
        ("Attempted to Contact", "lead"),
        ("Connected", "prospect"),
        ("Bad Timing", "inactive"),
        ("Unqualified", "inactive"),
    ),
)

SALESFORCE_LEAD_STATUSES = Vocabulary(
    "Salesforce lead status",
    (
        ("Open - Not Contacted", "lead"),
        ("Working - Contacted", "prospect"),
        ("Closed - Converted", "customer"),
        ("Closed - Not Converted", "inactive"),
    ),
)

ZOHO_LEAD_STATUSES = Vocabulary(
    "Zoho lead status",
    (
        ("Not Contacted", "lead"),
        ("Attempted to Contact", "lead"),
        ("Contact in Future", "lead"),
        ("Contacted", "prospect"),
        ("Pre-Qualified", "prospect"),
        ("Not Qualified", "inactive"),
        ("Junk Lead", "inactive"),
        ("Lost Lead", "inactive"),
    ),
)

SALESFORCE_QUOTE_STATUSES = Vocabulary(
    "Salesforce quote status",
    (
        ("Draft", "draft"),
        ("Needs Review", "pending"),
        ("In Review", "pending"),
        ("Approved", "pending"),
        ("Presented", "sent"),
        ("Accepted", "accepted"),
        ("Denied", "rejected"),
        ("Rejected", "rejected"),
    ),
)

CONTACT_STATUS_VOCABULARIES = (
    HUBSPOT_LIFECYCLE_STAGES,
    HUBSPOT_LEAD_STATUSES,
    SALESFORCE_LEAD_STATUSES,
    ZOHO_LEAD_STATUSES,
)
BID_STATUS_VOCABULARIES = (SALESFORCE_QUOTE_STATUSES,)
