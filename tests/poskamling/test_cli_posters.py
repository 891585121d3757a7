"""`poskamling device qr <post>` and `poskamling officers link <id>` through typer's CliRunner:
the poster files hold the post's two signed links, which the hub's own key verifies."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from PIL import Image
from typer.testing import CliRunner

from hub.community.links import KEY_FILE, CommunityLinks
from poskamling.cli import app
from tests.support import post_entry


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mqtt_password": "hub-password-1",
                "data_dir": str(tmp_path / "data"),
                "public_url": "https://polsek.example",
                "posts": [post_entry("pos-rw01", "Pos Kamling RW 01", village="Sukamaju")],
                "officers": [{"name": "Bripka Agus", "urls": ["json://localhost/agus"]}],
            }
        )
    )
    return path


def test_device_qr_writes_a_poster_with_both_signed_links(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(app, ["device", "qr", "pos-rw01", "-c", str(config), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "out" / "pos-rw01-poster.svg").read_text()
    assert "Pos Kamling RW 01" in svg and "Sukamaju" in svg
    assert Image.open(tmp_path / "out" / "pos-rw01-poster.png").format == "PNG"
    links = CommunityLinks((tmp_path / "data" / KEY_FILE).read_bytes().strip())
    assert (tmp_path / "data" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    sambang = re.search(r"sambang: https://polsek\.example/sambang/(\S+)", result.output).group(1)
    lapor = re.search(r"lapor: +https://polsek\.example/lapor/(\S+)", result.output).group(1)
    assert links.verify(sambang, "sambang", "pos-rw01").expires > links.clock() + 700 * 86400
    assert links.verify(lapor, "lapor", "pos-rw01")


def test_unknown_posts_and_officers_are_refused_and_a_personal_link_is_printed(tmp_path: Path) -> None:
    config = _config(tmp_path)
    missing = CliRunner().invoke(app, ["device", "qr", "pos-nope", "-c", str(config)])
    assert missing.exit_code == 2 and "no active post" in missing.output
    result = CliRunner().invoke(app, ["officers", "link", "settings-1", "-c", str(config), "--days", "30"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().rsplit("/", 1)[1]
    links = CommunityLinks((tmp_path / "data" / KEY_FILE).read_bytes().strip())
    assert links.verify(token, "officer", "settings-1")
    assert CliRunner().invoke(app, ["officers", "link", "nobody", "-c", str(config)]).exit_code == 2
