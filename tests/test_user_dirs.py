"""Files outside the project's folders go to XDG base directories that an environment variable moves."""

from __future__ import annotations

import pytest

from kraken_global.live.errors import LiveError
from kraken_global.live.keyguard import KeyGuard, default_lock_dir
from kraken_global.registry.keys import default_key_dir


@pytest.fixture
def bare(monkeypatch, tmp_path):
    for name in ("KRAKEN_GLOBAL_LOCK_DIR", "KRAKEN_GLOBAL_KEY_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_the_key_lock_goes_to_the_variable_else_xdg_state_else_local_state(bare, tmp_path):
    assert default_lock_dir() == tmp_path / "home" / ".local" / "state" / "kraken-global" / "keys"
    bare.setenv("XDG_STATE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert default_lock_dir() == tmp_path / "home" / ".local" / "state" / "kraken-global" / "keys"
    bare.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_lock_dir() == tmp_path / "state" / "kraken-global" / "keys"
    bare.setenv("KRAKEN_GLOBAL_LOCK_DIR", str(tmp_path / "volume"))
    assert default_lock_dir() == tmp_path / "volume"
    assert KeyGuard("k", tmp_path / "configured").directory == tmp_path / "configured"  # live.key_lock_dir wins


def test_the_audit_key_folder_follows_xdg_config_home(bare, tmp_path):
    assert default_key_dir() == tmp_path / "home" / ".config" / "kraken-global"
    bare.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_key_dir() == tmp_path / "config" / "kraken-global"
    bare.setenv("KRAKEN_GLOBAL_KEY_DIR", str(tmp_path / "keys"))
    assert default_key_dir() == tmp_path / "keys"


def test_an_unwritable_home_is_one_clear_line_naming_the_way_out(bare, tmp_path):
    home = tmp_path / "home"
    home.write_text("a file: no folder can be made in it, whoever runs the test")
    with pytest.raises(LiveError, match=r"point KRAKEN_GLOBAL_LOCK_DIR or live\.key_lock_dir at a writable folder"):
        KeyGuard("k").acquire()
