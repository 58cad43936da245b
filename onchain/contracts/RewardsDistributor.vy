# pragma version ~=0.4.3
"""
@title aidnav GAIB rewards distributor
@notice Holds GAIB and pays stakers their cumulative rewards against a Merkle root, in
        the manner of Morpho's Universal Rewards Distributor: the updater proposes the
        root of an epoch (epoch = day number) with `proposeRoot`; once the timelock has
        passed anyone may `acceptRoot` it; until then the guardian (or the admin) may
        `revokePendingRoot`. With a timelock of 0 a proposal is accepted at once.
        Claims use the latest accepted root.

        A leaf is the OpenZeppelin standard Merkle tree leaf
        `keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))))`; a claim pays
        `cumulative - claimed[account]`, never more than the distributor holds (the rest
        stays claimable).

        Roles: `admin` (two-step transfer; sets updater, guardian, timelock; unpauses),
        `updater` (proposes), `guardian` (revokes a pending root, pauses). Admin, guardian
        and pause come from the shared module `admin_roles` (also used by NavOracle).
        Reverts: "not admin", "not updater", "not guardian", "not pending admin",
        "no pending admin", "paused", "epoch not increasing", "no pending root",
        "timelock not passed", "no accepted root", "invalid proof", "timelock too long".
"""

from ethereum.ercs import IERC20
from snekmate.utils import merkle_proof_verification as mpv

import admin_roles

initializes: admin_roles

exports: admin_roles.__interface__


struct EpochRecord:
    root: bytes32
    total: uint256
    reportHash: bytes32
    proposedAt: uint256
    validAt: uint256
    acceptedAt: uint256
    revoked: bool


struct PendingRoot:
    epoch: uint256
    root: bytes32
    total: uint256
    reportHash: bytes32
    validAt: uint256


event RootProposed:
    epoch: indexed(uint256)
    root: bytes32
    total: uint256
    reportHash: bytes32
    validAt: uint256


event RootAccepted:
    epoch: indexed(uint256)
    root: bytes32
    total: uint256
    reportHash: bytes32


event RootRevoked:
    epoch: indexed(uint256)
    root: bytes32
    by: indexed(address)


event Claimed:
    account: indexed(address)
    epoch: indexed(uint256)
    amount: uint256
    cumulativeClaimed: uint256


event UpdaterSet:
    previous: indexed(address)
    updater: indexed(address)


event TimelockSet:
    previous: uint256
    timelock: uint256


MAX_PROOF: constant(uint256) = 64
MAX_TIMELOCK: constant(uint256) = 30 * 86400

# public getters (Vyper has no NatSpec on state variables):
# the GAIB token paid out
token: public(immutable(IERC20))
# the account that proposes roots (`proposeRoot`)
updater: public(address)
# seconds between a proposal and its acceptance
timelock: public(uint256)
# the accepted root that claims use
currentEpoch: public(uint256)
currentRoot: public(bytes32)
currentTotal: public(uint256)
# GAIB paid so far to each account
claimed: public(HashMap[address, uint256])
_pending: PendingRoot
_epochs: HashMap[uint256, EpochRecord]


@deploy
@payable
def __init__(token_: IERC20, timelock_: uint256):
    """
    @notice The deployer becomes admin, updater and guardian.
    @dev Logs AdminTransferred, UpdaterSet, GuardianSet, TimelockSet, in that order.
    @param token_ The GAIB token the distributor pays out.
    @param timelock_ Seconds between a proposal and the moment it can be accepted;
           at most 30 days.
    """
    assert timelock_ <= MAX_TIMELOCK, "timelock too long"
    token = token_
    admin_roles.__init__()
    self.updater = msg.sender
    log UpdaterSet(previous=empty(address), updater=msg.sender)
    admin_roles._set_guardian(msg.sender)
    self.timelock = timelock_
    log TimelockSet(previous=0, timelock=timelock_)


@external
def setUpdater(updater: address):
    """
    @notice Name the account that proposes rewards roots.
    @dev Admin only.
    @param updater The new updater.
    """
    admin_roles._check_admin()
    log UpdaterSet(previous=self.updater, updater=updater)
    self.updater = updater


@external
def setTimelock(timelock_: uint256):
    """
    @notice Set the delay between a proposal and its acceptance.
    @dev Admin only; reverts "timelock too long" above 30 days. Applies to later
         proposals; a pending root keeps its `validAt`.
    @param timelock_ The delay in seconds (0: a proposal is accepted at once).
    """
    admin_roles._check_admin()
    assert timelock_ <= MAX_TIMELOCK, "timelock too long"
    log TimelockSet(previous=self.timelock, timelock=timelock_)
    self.timelock = timelock_


@internal
def _accept():
    pending: PendingRoot = self._pending
    self.currentEpoch = pending.epoch
    self.currentRoot = pending.root
    self.currentTotal = pending.total
    self._epochs[pending.epoch].acceptedAt = block.timestamp
    self._pending = empty(PendingRoot)
    log RootAccepted(epoch=pending.epoch, root=pending.root, total=pending.total, reportHash=pending.reportHash)


@external
def proposeRoot(epoch: uint256, root: bytes32, total: uint256, reportHash: bytes32):
    """
    @notice Propose the cumulative root of an epoch; it replaces a pending root of an
            earlier epoch. Accepted at once when the timelock is 0.
    @dev Updater only. Reverts "paused", "not updater", "epoch not increasing" (the
         epoch must be after the accepted one and after any pending one).
    @param epoch The epoch (day number) the root closes.
    @param root The Merkle root of (account, cumulative GAIB) leaves.
    @param total The sum of the cumulative amounts under the root.
    @param reportHash The hash of the published rewards report.
    """
    admin_roles._check_not_paused()
    assert msg.sender == self.updater, "not updater"
    assert epoch > self.currentEpoch, "epoch not increasing"
    if self._pending.validAt != 0:
        assert epoch > self._pending.epoch, "epoch not increasing"
    valid_at: uint256 = block.timestamp + self.timelock
    self._epochs[epoch] = EpochRecord(
        root=root,
        total=total,
        reportHash=reportHash,
        proposedAt=block.timestamp,
        validAt=valid_at,
        acceptedAt=0,
        revoked=False,
    )
    self._pending = PendingRoot(epoch=epoch, root=root, total=total, reportHash=reportHash, validAt=valid_at)
    log RootProposed(epoch=epoch, root=root, total=total, reportHash=reportHash, validAt=valid_at)
    if self.timelock == 0:
        self._accept()


@external
def acceptRoot():
    """
    @notice Make the pending root the one claims use, once its timelock has passed.
    @dev Anyone may call. Reverts "paused", "no pending root", "timelock not passed".
    """
    admin_roles._check_not_paused()
    assert self._pending.validAt != 0, "no pending root"
    assert block.timestamp >= self._pending.validAt, "timelock not passed"
    self._accept()


@external
def revokePendingRoot():
    """
    @notice Drop the pending root before it is accepted; its epoch is marked revoked
            and may be proposed again.
    @dev Guardian or admin; reverts "not guardian" for anyone else, "no pending root"
         when none is pending. Allowed while paused.
    """
    assert msg.sender == admin_roles.guardian or msg.sender == admin_roles.admin, "not guardian"
    pending: PendingRoot = self._pending
    assert pending.validAt != 0, "no pending root"
    self._epochs[pending.epoch].revoked = True
    self._pending = empty(PendingRoot)
    log RootRevoked(epoch=pending.epoch, root=pending.root, by=msg.sender)


@external
@view
def pendingRoot() -> PendingRoot:
    """
    @notice The root waiting for its timelock.
    @return The pending root (epoch, root, total, reportHash, validAt); all zero
            (validAt == 0) when none is pending.
    """
    return self._pending


@external
@view
def epochOf(epoch: uint256) -> EpochRecord:
    """
    @notice The root proposed for an epoch and what became of it.
    @param epoch The epoch (day number).
    @return The record (root, total, reportHash, proposedAt, validAt, acceptedAt,
            revoked); all zero (proposedAt == 0) when none was proposed.
    """
    return self._epochs[epoch]


@external
def claim(account: address, cumulative: uint256, proof: DynArray[bytes32, MAX_PROOF]) -> uint256:
    """
    @notice Pay an account what it is owed under the accepted root. Anyone may call;
            the GAIB always goes to `account`.
    @dev Reverts "paused", "no accepted root", "invalid proof". Pays `cumulative -
         claimed[account]`, at most the distributor's balance; pays 0 without reverting
         when nothing is owed.
    @param account The account in the leaf, which receives the payment.
    @param cumulative The account's cumulative GAIB in the leaf.
    @param proof The Merkle proof of the leaf under the accepted root.
    @return The amount paid.
    """
    admin_roles._check_not_paused()
    assert self.currentEpoch != 0, "no accepted root"
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
