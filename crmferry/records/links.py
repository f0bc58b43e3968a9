"""Links: fields whose values name another record, described as data.

A bid's `contact_email` names the contact with that e-mail in the same
organization, and the import keeps that contact's id in `bids.contact_id`; a
contact's `owner_email` must name a member of the organization. Both are a `Link`:

* `fields`: this type's fields whose values name the linked record (several for a
  composite key: a line item's `bid_number` + `line_number` would name one line);
* `target`: the linked data type's name, or `MEMBERS`;
* `key`: the target's fields those values match, in the same order: its natural
  key (unique in an organization, so a row matches at most one record);
* `id_column`: this type's column that keeps the matched record's id, or None for
  a check only;
* `message`: the error on the link's first field when present values match nothing.
* `included_as`: the name under which an export of the target may include the records
  that link to it (a bid's `items`: its lines), or None;
* `rollup`: (target field, this type's field): the target's field an export may derive
  as the sum of its linked records' field (a bid's `amount` from its lines' totals).

Validation joins every mapped link (all of its fields mapped) to its target; exports
join a link to read an export-only field `through` it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    """A reference from some fields of a data type to a record of `target`."""

    name: str
    fields: tuple[str, ...]
    target: str
    key: tuple[str, ...]
    message: str
    id_column: str | None = None
    included_as: str | None = None
    rollup: tuple[str, str] | None = None

    def as_public(self) -> dict[str, object]:
        """The link as `GET /data-types` shows it."""
        return {
            "name": self.name,
            "fields": list(self.fields),
            "target": self.target,
            "key": list(self.key),
            "id_column": self.id_column,
        }


@dataclass(frozen=True)
class LinkTarget:
    """What a link can point at: a table with a key unique per organization.

    Every data type is one (its table, its natural key, `id`); `MEMBERS` is the other.
    """

    name: str
    table: str
    key: tuple[str, ...]
    key_case_insensitive: bool = False
    id_column: str = "id"


# The organization's members, by e-mail (the view `organization_members`, migration 0020).
MEMBERS = LinkTarget(
    name="members",
    table="organization_members",
    key=("email",),
    key_case_insensitive=True,
    id_column="user_id",
)
