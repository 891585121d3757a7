"""`poskamling device qr <post>` (the QR poster of a post) and `poskamling officers link <id>`.

Both sign links with the hub's poster key (`<data_dir>/poster_link.key`, made at first use, 0600):
the poster carries the officers' visit link (sambang) and the residents' quick report link (lapor
cepat) of one post; the officer's personal link lets them record visits without a dashboard login.
Deleting the key and restarting the hub revokes every poster and personal link at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hub.community.links import KEY_FILE, CommunityLinks
from hub.community.poster import poster_png, poster_svg
from hub.community.service import find_officer, officer_url, poster_urls
from hub.duty.officers import OfficerStore
from hub.paging.ack_links import load_or_create_secret
from hub.provisioning.devices import DeviceStore
from poskamling.commands import devices, officers
from poskamling.commands.common import fail
from poskamling.commands.hub_config import hub_settings

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the hub's YAML or TOML config file")]
DEFAULT_CONFIG = Path("/etc/poskamling/hub.yaml")


def _links(settings):  # -> CommunityLinks; hub imports stay inside commands so `poskamling --help` works without [hub]

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = settings.data_dir / KEY_FILE
    secret = load_or_create_secret(key)
    if os.geteuid() == 0:  # made by root for a hub that runs as its own user: hand the key to the data folder's owner
        owner = settings.data_dir.stat()
        os.chown(key, owner.st_uid, owner.st_gid)
    return CommunityLinks(secret)


def _find_post(settings, post_id: str):

    for post in settings.posts:
        if post.device_id == post_id:
            return post
    record = DeviceStore(settings.data_dir / "devices.json").get(post_id)
    if record is None or record.status != "active":
        raise fail(f"no active post {post_id!r} (see `poskamling device list`)")
    return record.post()


def qr(
    post_id: Annotated[str, typer.Argument(help="the post's device id, e.g. pos-rw01")],
    config: ConfigOption = DEFAULT_CONFIG,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="folder for the files (default: current)")] = None,
    days: Annotated[
        float, typer.Option("--days", min=1, max=3660, help="how long the poster's links stay valid")
    ] = 730,
) -> None:
    """Write the post's QR poster (<post>-poster.svg and .png): officers' visit and residents' report links."""
    settings = hub_settings(config)
    post = _find_post(settings, post_id)
    if settings.public_url.startswith("http://127.") or "localhost" in settings.public_url:
        typer.secho(
            f"warning: public_url is {settings.public_url}; phones cannot reach that", fg=typer.colors.YELLOW, err=True
        )
    sambang, lapor = poster_urls(_links(settings), settings.public_url, post.device_id, days)
    folder = out or Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    svg = folder / f"{post.device_id}-poster.svg"
    png = folder / f"{post.device_id}-poster.png"
    svg.write_text(poster_svg(post.name, post.village, sambang, lapor), encoding="utf-8")
    png.write_bytes(poster_png(post.name, post.village, sambang, lapor))
    typer.echo(f"{svg}\n{png}\nsambang: {sambang}\nlapor:   {lapor}")


def link(
    officer_id: Annotated[str, typer.Argument(help="the officer's id (see `poskamling officers list`)")],
    config: ConfigOption = DEFAULT_CONFIG,
    days: Annotated[float, typer.Option("--days", min=1, max=3660, help="how long the link stays valid")] = 180,
) -> None:
    """Print an officer's personal link: opened once on their phone, it records their visits (sambang)."""
    settings = hub_settings(config)
    officer = find_officer(settings, OfficerStore(settings.data_dir / "roster.json"), officer_id)
    if officer is None:
        raise fail(f"no officer {officer_id!r} (see `poskamling officers list`)")
    typer.echo(officer_url(_links(settings), settings.public_url, officer.id, days))


def register(root: typer.Typer) -> None:
    # Sub-commands of the existing groups: typer builds the command tree when it runs, so adding
    # them after those groups were registered is enough.
    devices.app.command("qr")(qr)
    officers.app.command("link")(link)
