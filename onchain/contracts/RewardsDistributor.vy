# pragma version ~=0.4.3
"""
@title aidnav GAIB rewards distributor
@notice Holds GAIB and pays stakers their cumulative rewards against a Merkle root that
        the updater posts once per epoch (epoch = day number). A leaf is the OpenZeppelin
        standard Merkle tree leaf `keccak256(bytes.concat(keccak256(abi.encode(account,
        cumulative))))`; a claim pays `cumulative - claimed[account]`, never more than the
        distributor holds (the rest stays claimable).
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import merkle_proof_verification as mpv

initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
)


struct EpochRecord:
    root: bytes32
    total: uint256
    reportHash: bytes32
    postedAt: uint256


event RootPosted:
    epoch: indexed(uint256)
    root: bytes32
    total: uint256
    reportHash: bytes32


event Claimed:
    account: indexed(address)
    epoch: indexed(uint256)
    amount: uint256
    cumulativeClaimed: uint256


event UpdaterSet:
    previous: indexed(address)
    updater: indexed(address)


MAX_PROOF: constant(uint256) = 64

token: public(immutable(IERC20))
updater: public(address)
currentEpoch: public(uint256)
currentRoot: public(bytes32)
claimed: public(HashMap[address, uint256])
_epochs: HashMap[uint256, EpochRecord]


@deploy
@payable
def __init__(token_: IERC20):
    ownable.__init__()
    token = token_


@external
def setUpdater(updater: address):
    ownable._check_owner()
    log UpdaterSet(previous=self.updater, updater=updater)
    self.updater = updater


@external
def postRoot(epoch: uint256, root: bytes32, total: uint256, reportHash: bytes32):
    assert msg.sender == self.updater, "not updater"
    assert epoch > self.currentEpoch, "epoch not increasing"
    self._epochs[epoch] = EpochRecord(root=root, total=total, reportHash=reportHash, postedAt=block.timestamp)
    self.currentEpoch = epoch
    self.currentRoot = root
    log RootPosted(epoch=epoch, root=root, total=total, reportHash=reportHash)


@external
@view
def epochOf(epoch: uint256) -> EpochRecord:
    """
    @notice The root posted for `epoch`; all zero (postedAt == 0) when none was.
    """
    return self._epochs[epoch]


@external
def claim(account: address, cumulative: uint256, proof: DynArray[bytes32, MAX_PROOF]) -> uint256:
    """
    @notice Pays `account` what it is owed under the current root; returns the amount paid.
    """
    leaf: bytes32 = keccak256(keccak256(abi_encode(account, cumulative)))
    assert mpv._verify(proof, self.currentRoot, leaf), "invalid proof"
    already: uint256 = self.claimed[account]
    if cumulative <= already:
        return 0
    owed: uint256 = cumulative - already
    paid: uint256 = min(owed, staticcall token.balanceOf(self))
    if paid == 0:
        return 0
    self.claimed[account] = already + paid
    assert extcall token.transfer(account, paid, default_return_value=True), "transfer failed"
    log Claimed(account=account, epoch=self.currentEpoch, amount=paid, cumulativeClaimed=already + paid)
    return paid
