"""The publisher key: sources, the local-only test key, and never shown anywhere."""

from __future__ import annotations

import json
import logging
import pickle
from datetime import date
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from onchain.contracts_client import contract_at
from onchain.deploy import deploy_contract
from publishing.publisher import publish_nav
from onchain.signer import Signer, SignerError, anvil_test_signer, load_signer

# anvil's published test accounts #0 and #1 (from `anvil` start-up banner / Foundry docs)
ANVIL_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ANVIL_1_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ANVIL_0_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _assert_hidden(text: str, key: str) -> None:
    bare = key.lower().removeprefix("0x")
    assert bare not in text.lower()


def test_local_chain_falls_back_to_the_named_test_key() -> None:
    signer = load_signer(31337, env={})
    assert signer.address == ANVIL_0
    assert signer.is_test_key and "test" in repr(signer)
    _assert_hidden(repr(signer) + str(signer), ANVIL_0_KEY)
    assert anvil_test_signer(1).address == ANVIL_1


def test_other_chains_need_a_configured_key() -> None:
    with pytest.raises(SignerError, match="AIDNAV_SIGNER_KEY"):
        load_signer(1, env={})


def test_key_from_env(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signer = load_signer(1, env={"AIDNAV_SIGNER_KEY": ANVIL_1_KEY})
    assert signer.address == ANVIL_1 and not signer.is_test_key
    assert "AIDNAV_SIGNER_KEY" in repr(signer)
    print(signer, repr(signer), f"{signer!r}", [signer], {"s": signer})
    logging.getLogger("test").info("signer %s %r", signer, signer)
    out = capsys.readouterr()
    _assert_hidden(out.out + out.err + caplog.text + repr(vars(type(signer))), ANVIL_1_KEY)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


def test_bad_key_error_does_not_echo_it() -> None:
    bad = "0x" + "zz" + ANVIL_1_KEY[4:]
    with pytest.raises(SignerError) as info:
        load_signer(1, env={"AIDNAV_SIGNER_KEY": bad})
    _assert_hidden(str(info.value) + repr(info.value.__cause__), bad)


def test_key_from_encrypted_keystore(tmp_path: Path) -> None:
    keyfile = Account.encrypt(ANVIL_1_KEY, "correct horse", kdf="pbkdf2", iterations=1024)
    path = tmp_path / "publisher.json"
    path.write_text(json.dumps(keyfile))
    env = {"AIDNAV_KEYSTORE": str(path), "AIDNAV_KEYSTORE_PASSWORD": "correct horse"}
    signer = load_signer(1, env=env)
    assert signer.address == ANVIL_1 and str(path) in signer.source
    with pytest.raises(SignerError, match="wrong password"):
        load_signer(1, env={**env, "AIDNAV_KEYSTORE_PASSWORD": "wrong"})
    with pytest.raises(SignerError, match="AIDNAV_KEYSTORE_PASSWORD"):
        load_signer(1, env={"AIDNAV_KEYSTORE": str(path)})


@pytest.mark.chain
def test_publishing_never_logs_the_key(
    w3: Web3, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # web3, urllib3 and our own modules at their chattiest
    signer: Signer = load_signer(31337, env={})
    oracle = contract_at(w3, "NavOracle", deploy_contract(w3, signer, "NavOracle", 100))
    result = publish_nav(w3, signer, oracle.address, date(2026, 3, 1), 10**18, 10**18, 10**18,
                         b"\x05" * 32)
    assert result.status == "posted"
    assert caplog.records  # something was logged, so the check below means something
    out = capsys.readouterr()
    _assert_hidden(out.out + out.err + caplog.text + repr(result), ANVIL_0_KEY)
