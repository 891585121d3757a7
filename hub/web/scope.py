"""Village scope (issue 15): the part of the hub an account may see, from its `villages` list.

An account (dashboard user or API token) with an empty `villages` list sees the whole hub. One
with villages sees, acknowledges and reports only what belongs to those villages' posts: the
posts themselves, their alerts and events, their visits and residents' reports. A post belongs to
the village its settings name (`PostSettings.village`, looked up in the registry at the time of
the request); a post without a village, or a device the registry does not know, belongs to no
village and is visible only to whole-hub accounts.

How a route applies it (docs/security.md, "Village-scoped accounts"):

- lists: `scope.devices(hub.registry)` into the store query (`EventQuery.devices`,
  `AlertQuery.devices`): None means no filter, a set means only those devices (empty: nothing).
  The filter is in the query, so keyset pagination pages over the account's rows only;
- one object (an alert, event, post, visit, report) of another village: `scope.check_device(...)`
  answers 404, exactly as for an id that does not exist, so guessing ids learns nothing;
- routes about the whole hub (admin, technician, dead letters, metrics) refuse scoped accounts
  with 403: `require(...)` does it for routes without viewer or operator among their roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from fastapi import HTTPException, status

from hub.accounts.auth import Principal
from hub.ronda.roster import same_village
from hub.settings import PostSettings

T = TypeVar("T")


class Posts(Protocol):
    """What the scope needs of the post registry."""

    def get(self, device: str) -> PostSettings | None: ...
    def all(self) -> list[PostSettings]: ...


@dataclass(frozen=True)
class Scope:
    """All villages (`villages` empty) or only some. Pure: the registry is passed in."""

    villages: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        return cls(tuple(v for v in principal.villages if v.strip()))

    @property
    def whole_hub(self) -> bool:
        return not self.villages

    def covers_village(self, village: str | None) -> bool:
        if self.whole_hub:
            return True
        return bool(village and village.strip()) and any(same_village(v, village or "") for v in self.villages)

    def covers_post(self, post: PostSettings | None) -> bool:
        return self.whole_hub or (post is not None and self.covers_village(post.village))

    def covers_device(self, posts: Posts, device: object) -> bool:
        """Whether the device's post is in scope (an unknown device, or not text: only for the whole hub)."""
        if self.whole_hub:
            return True
        return isinstance(device, str) and self.covers_post(posts.get(device))

    def devices(self, posts: Posts) -> frozenset[str] | None:
        """The devices to filter a query by: None for the whole hub (no filter), else the scope's posts."""
        if self.whole_hub:
            return None
        return frozenset(p.device_id for p in posts.all() if self.covers_village(p.village))

    def posts(self, posts: Posts) -> list[PostSettings]:
        return [p for p in posts.all() if self.covers_post(p)]

    def keep(self, posts: Posts, items: Iterable[T], device_of: str = "device") -> list[T]:
        """Items (views or records with a `device_of` key or attribute) whose device is in scope."""
        if self.whole_hub:
            return list(items)
        return [i for i in items if self.covers_device(posts, _field(i, device_of))]

    def check_device(self, posts: Posts, device: object, detail: str = "not found") -> None:
        """404 (as if absent, so ids cannot be probed) when the device's post is out of scope."""
        if not self.covers_device(posts, device):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail)


WHOLE_HUB = Scope()


def _field(item: object, name: str) -> object:
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def forbid_scoped(principal: Principal) -> None:
    """403 for a route about the whole hub (admin, technician, dead letters, metrics)."""
    if principal.villages:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not for an account limited to villages")
