"""The ronda watch reads a commit's check-ins as one batch: one roster read, each post by its own village's hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

from hub.ronda.roster import RondaHours
from hub.ronda.store import RondaStore
from hub.ronda.watch import RondaWatch
from hub.settings import PostSettings

NOW = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 23:00 in Jakarta


def test_a_batch_counts_each_posts_checkins_by_its_own_villages_hours(tmp_path: Path) -> None:
    store = RondaStore(tmp_path / "ronda.json")
    store.set_hours(RondaHours(village="Sukamaju", start=time(22, 0), end=time(4, 0)))
    store.set_hours(RondaHours(village="Mekarsari", start=time(0, 0), end=time(5, 0)))  # not yet begun at 23:00
    posts = [
        PostSettings(device_id="pos-sk01", name="Pos Sukamaju", village="Sukamaju"),
        PostSettings(device_id="pos-mk01", name="Pos Mekarsari", village="Mekarsari"),
    ]
    raised: list[str] = []
    watch = RondaWatch(
        store, lambda: posts, "Asia/Jakarta", lambda d, _: raised.append(d), lambda d, _: None, clock=lambda: NOW
    )
    batch = [
        {"id": f"e{n}", "device": device, "kind": "checkin", "data": {}, "test": False}
        for n, device in enumerate(["pos-sk01", "pos-mk01", "pos-sk01", "pos-zz99"])
    ]
    batch.append({"id": "walk", "device": "pos-sk01", "kind": "checkin", "data": {}, "test": True})
    batch.append({"id": "m", "device": "pos-mk01", "kind": "motion", "data": {}, "test": False})
    watch.observe_records(batch)
    nights = {view.device: view for view in watch.tonight(now=NOW)}
    sukamaju, mekarsari = nights["pos-sk01"], nights["pos-mk01"]
    assert [c.counted for c in sukamaju.checkins] == [True, True]  # inside 22:00-04:00; the walk test is left out
    assert [c.counted for c in mekarsari.checkins] == [False]  # before its 00:00 start: recorded, not counted
    assert sukamaju.hours == "22:00-04:00" and mekarsari.hours == "00:00-05:00"
    assert raised == []
