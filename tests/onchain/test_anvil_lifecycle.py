"""anvil starts idempotently, and its state survives a stop/start."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from aidnav.cli import main
from onchain import anvil
from onchain.deploy import ensure_deployed
from onchain.signer import anvil_test_signer
from onchain.testing import free_port

pytestmark = pytest.mark.chain


def test_state_survives_stop_and_start(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    port = free_port()
    try:
        first = anvil.start(state, port=port, log_file=tmp_path / "anvil.log")
        assert first.running and first.chain_id == 31337 and first.pid is not None
        assert anvil.start(state, port=port).pid == first.pid  # idempotent: same node

        w3 = Web3(Web3.HTTPProvider(first.rpc_url))
        addresses = ensure_deployed(w3, anvil_test_signer(0), tmp_path / "registry", 31337)
        blocks = w3.eth.block_number
        assert blocks >= 6

        assert anvil.stop(tmp_path) is True
        assert not anvil.status(first.rpc_url).running
        assert state.stat().st_size > 0

        second = anvil.start(state, port=port)
        assert second.running and second.pid != first.pid
        assert second.block_number == blocks
        w3 = Web3(Web3.HTTPProvider(second.rpc_url))
        for role, address in addresses.items():
            assert len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0, role
    finally:
        anvil.stop(tmp_path)


def test_a_node_of_another_data_directory_on_the_port_is_refused(
        tmp_path: Path, monkeypatch, capsys) -> None:
    port = free_port()
    try:
        anvil.start(tmp_path / "one" / "state.json", port=port)
        with pytest.raises(anvil.AnvilError, match=f"answers at http://127.0.0.1:{port} .* "
                                                   "not the anvil of .*two"):
            anvil.start(tmp_path / "two" / "state.json", port=port)
        assert not (tmp_path / "two" / "anvil.pid").exists()
        # and `aidnav chain up` for that data directory says so, without a traceback
        monkeypatch.setenv("AIDNAV_DATA_DIR", str(tmp_path / "data-two"))
        monkeypatch.setenv("AIDNAV_RPC_URL", f"http://127.0.0.1:{port}")
        assert main(["chain", "up"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("aidnav: a node already answers") and "Traceback" not in err
    finally:
        anvil.stop(tmp_path / "one")


def test_stop_without_a_node_is_a_no_op(tmp_path: Path) -> None:
    assert anvil.stop(tmp_path) is False


def test_status_of_a_closed_port() -> None:
    current = anvil.status(anvil.rpc_url_for("127.0.0.1", free_port()))
    assert current.running is False and current.chain_id is None


def test_missing_binary_says_how_to_install(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(anvil, "REPO_ROOT", tmp_path)
    with pytest.raises(anvil.AnvilError, match="make install"):
        anvil.start(tmp_path / "state.json", port=free_port())
