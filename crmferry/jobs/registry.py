"""Things made known by name when the code loads (job kinds, source types).

A name is registered once: a second registration is an error (procrastinate's
`TaskAlreadyRegistered`, River's panic on a second `AddWorker`), so two plugins
cannot silently shadow each other. Replacing one on purpose says so (`replace=True`).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from crmferry.errors import AlreadyRegistered

T = TypeVar("T")


class Registry(Generic[T]):
    """Items of one sort (`what`, for messages) by name."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T, *, replace: bool = False) -> T:
        """Register `item` as `name`; AlreadyRegistered when the name is taken, unless
        `replace` (then the new item is used from now on, in this process only)."""
        if name in self._items and not replace:
            raise AlreadyRegistered(
                f"A {self.what} named '{name}' is already registered; register it with "
                "replace=True to replace it on purpose."
            )
        self._items[name] = item
        return item

    def remove(self, name: str) -> T:
        """Unregister `name` (a test or plugin undoing its own registration); KeyError if none."""
        return self._items.pop(name)

    def get(self, name: str) -> T:
        """The item registered as `name`; KeyError if none."""
        return self._items[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._items)

    def items(self) -> list[T]:
        """Every registered item, by name."""
        return [self._items[name] for name in self.names()]
