"""A node refuses to start on a setting that cannot work, and says which one and why."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from collab.settings import load_settings


def test_a_mistyped_time_zone_is_refused_when_settings_load():
    assert load_settings(time_zone="Asia/Urumqi").time_zone == "Asia/Urumqi"
    with pytest.raises(ValueError, match="Mars/Base"):
        load_settings(time_zone="Mars/Base")


def test_the_server_exits_at_once_naming_the_bad_zone(tmp_path):
    env = dict(os.environ, COLLAB_TIME_ZONE="Asia/Shangai", COLLAB_DATA_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", "0",
                           "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "COLLAB_TIME_ZONE" in proc.stderr and "'Asia/Shangai' is not an IANA time zone" in proc.stderr
