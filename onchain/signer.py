"""The publisher's signing key, read at the moment it is needed.

Sources, first match wins:
1. `AIDNAV_SIGNER_KEY`: the private key as hex;
2. `AIDNAV_KEYSTORE` + `AIDNAV_KEYSTORE_PASSWORD`: an encrypted (Web3 Secret Storage)
   keystore file and its password;
3. only on the local anvil chain (chain id 31337): anvil's deterministic test account
   #0, derived from the public test mnemonic. Anyone can spend from it: it is a test key.

The key lives inside a `Signer` whose repr, str and pickling never reveal it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount

LOCAL_CHAIN_ID = 31337
ANVIL_TEST_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_TEST_PATH_TEMPLATE = "m/44'/60'/0'/0/{index}"

ENV_KEY = "AIDNAV_SIGNER_KEY"
ENV_KEYSTORE = "AIDNAV_KEYSTORE"
ENV_KEYSTORE_PASSWORD = "AIDNAV_KEYSTORE_PASSWORD"


class SignerError(RuntimeError):
    """No usable key is configured, or the configured one cannot be read."""


class Signer:
    """A signing account whose key never appears in repr, str, logs or pickles."""

    __slots__ = ("_account", "source", "is_test_key")

    def __init__(self, account: LocalAccount, source: str, is_test_key: bool = False) -> None:
        self._account = account
        self.source = source
        self.is_test_key = is_test_key

    @property
    def address(self) -> str:
        """Checksummed address."""
        return str(self._account.address)

    def sign_transaction(self, transaction: Mapping[str, Any]) -> SignedTransaction:
        return self._account.sign_transaction(dict(transaction))

    def __repr__(self) -> str:
        test = ", test key" if self.is_test_key else ""
        return f"Signer(address={self.address}, source={self.source!r}{test})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Signer holds a private key and cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signer) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)


def anvil_test_signer(index: int = 0) -> Signer:
    """anvil's well-known test account `index` (public mnemonic; for chain 31337 only)."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(
        ANVIL_TEST_MNEMONIC, account_path=ANVIL_TEST_PATH_TEMPLATE.format(index=index)
    )
    return Signer(account, source=f"anvil test account #{index} (public test mnemonic)",
                  is_test_key=True)


def _from_hex(value: str) -> Signer:
    text = value.strip()
    try:
        account = Account.from_key(text if text.startswith("0x") else "0x" + text)
    except Exception as exc:  # the message of a bad key may echo the key: never chain it
        raise SignerError(
            f"{ENV_KEY} is not a valid 32-byte hex private key ({type(exc).__name__})"
        ) from None
    return Signer(account, source=f"env {ENV_KEY}")


def _from_keystore(path: Path, password: str) -> Signer:
    try:
        keyfile = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SignerError(f"{ENV_KEYSTORE}: keystore file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SignerError(
            f"{ENV_KEYSTORE}: {path} line {exc.lineno}: not a JSON keystore ({exc.msg})"
        ) from None
    try:
        key = Account.decrypt(keyfile, password)
    except ValueError:
        raise SignerError(
            f"{ENV_KEYSTORE}: cannot decrypt {path} with {ENV_KEYSTORE_PASSWORD} "
            "(wrong password or corrupt keystore)"
        ) from None
    return Signer(Account.from_key(key), source=f"keystore {path}")


def load_signer(chain_id: int, env: Mapping[str, str] | None = None) -> Signer:
    """The publisher's signer for `chain_id`, from the environment (see module doc)."""
    env = os.environ if env is None else env
    key = env.get(ENV_KEY, "").strip()
    if key:
        return _from_hex(key)
    keystore = env.get(ENV_KEYSTORE, "").strip()
    if keystore:
        if ENV_KEYSTORE_PASSWORD not in env:
            raise SignerError(f"{ENV_KEYSTORE} is set but {ENV_KEYSTORE_PASSWORD} is not")
        return _from_keystore(Path(keystore).expanduser(), env[ENV_KEYSTORE_PASSWORD])
    if chain_id == LOCAL_CHAIN_ID:
        return anvil_test_signer(0)
    raise SignerError(
        f"no signing key for chain {chain_id}: set {ENV_KEY} or "
        f"{ENV_KEYSTORE} + {ENV_KEYSTORE_PASSWORD} (the anvil test key is used only on "
        f"chain {LOCAL_CHAIN_ID})"
    )
