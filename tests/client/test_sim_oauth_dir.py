"""``axion-ibkr sim --oauth DIR`` never silently replaces a credential set it did not write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from axion_broker_ibkr.cli import main
from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.sim import SimServer


def _real_set(directory: Path) -> dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {"oauth.json": b'{"consumer_key": "ABCDEFGHI"}\n', "private_signature.pem": b"my real key\n"}
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return files


def test_the_cli_refuses_a_set_it_did_not_write_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _real_set(tmp_path / "creds")
    assert main(["sim", "--port", "0", "--oauth", str(tmp_path / "creds")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("axion-ibkr sim: ") and "not written by the simulator" in err and "--force" in err
    assert "oauth.json" in err and "private_signature.pem" in err
    for name, data in files.items():  # nothing touched, nothing added
        assert (tmp_path / "creds" / name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "creds").iterdir()) == sorted(files)


def test_a_key_alone_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "private_encryption.pem").write_bytes(b"key")
    with pytest.raises(ConfigError, match=r"private_encryption\.pem"):
        SimServer(port=0, oauth=True, oauth_dir=tmp_path).start()
    assert (tmp_path / "private_encryption.pem").read_bytes() == b"key"


def test_its_own_set_is_rewritten_and_force_overwrites_a_foreign_one(tmp_path: Path) -> None:
    own = tmp_path / "own"
    with SimServer(port=0, oauth=True, oauth_dir=own) as sim:
        first = json.loads((own / "oauth.json").read_text())
        assert sim.oauth_credentials == own / "oauth.json"
    with SimServer(port=0, oauth=True, oauth_dir=own):  # the simulator's own mark: rewritten freely
        assert json.loads((own / "oauth.json").read_text())["access_token"] != first["access_token"]

    foreign = tmp_path / "foreign"
    _real_set(foreign)
    with SimServer(port=0, oauth=True, oauth_dir=foreign, oauth_force=True) as sim:
        assert (
            json.loads((foreign / "oauth.json").read_text())["consumer_key"] == sim.state.oauth.consumer_key
        )
