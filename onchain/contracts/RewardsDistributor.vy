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
        `updater` (proposes), `guardian` (revokes a pending root, pauses).
        Reverts: "not admin", "not updater", "not guardian", "not pending admin",
        "no pending admin", "paused", "epoch not increasing", "no pending root",
        "timelock not passed", "no accepted root", "invalid proof", "timelock too long".
"""

from ethereum.ercs import IERC20
from snekmate.utils import merkle_proof_verification as mpv


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


event GuardianSet:
    previous: indexed(address)
    guardian: indexed(address)


event TimelockSet:
    previous: uint256
    timelock: uint256


event AdminTransferStarted:
    admin: indexed(address)
    pendingAdmin: indexed(address)


event AdminTransferred:
    previous: indexed(address)
    admin: indexed(address)


event Paused:
    by: indexed(address)


event Unpaused:
    by: indexed(address)


MAX_PROOF: constant(uint256) = 64
MAX_TIMELOCK: constant(uint256) = 30 * 86400

token: public(immutable(IERC20))
admin: public(address)
pendingAdmin: public(address)
updater: public(address)
guardian: public(address)
paused: public(bool)
timelock: public(uint256)
# the accepted root that claims use
currentEpoch: public(uint256)
currentRoot: public(bytes32)
currentTotal: public(uint256)
claimed: public(HashMap[address, uint256])
_pending: PendingRoot
_epochs: HashMap[uint256, EpochRecord]


@deploy
@payable
def __init__(token_: IERC20, timelock_: uint256):
    """
    @notice The deployer becomes admin, updater and guardian; `timelock_` is the number
            of seconds between a proposal and the moment it can be accepted.
    """
    assert timelock_ <= MAX_TIMELOCK, "timelock too long"
    token = token_
    self.admin = msg.sender
    self.updater = msg.sender
    self.guardian = msg.sender
    self.timelock = timelock_
    log AdminTransferred(previous=empty(address), admin=msg.sender)
    log UpdaterSet(previous=empty(address), updater=msg.sender)
    log GuardianSet(previous=empty(address), guardian=msg.sender)
    log TimelockSet(previous=0, timelock=timelock_)


@internal
@view
def _check_admin():
    assert msg.sender == self.admin, "not admin"


@external
def transferAdmin(newAdmin: address):
    """
    @notice Step one of the admin transfer; `acceptAdmin` by `newAdmin` completes it.
            The zero address cancels a pending transfer.
    """
    self._check_admin()
    self.pendingAdmin = newAdmin
    log AdminTransferStarted(admin=msg.sender, pendingAdmin=newAdmin)


@external
def acceptAdmin():
    assert self.pendingAdmin != empty(address), "no pending admin"
    assert msg.sender == self.pendingAdmin, "not pending admin"
    previous: address = self.admin
    self.admin = msg.sender
    self.pendingAdmin = empty(address)
    log AdminTransferred(previous=previous, admin=msg.sender)


@external
def setUpdater(updater: address):
    self._check_admin()
    log UpdaterSet(previous=self.updater, updater=updater)
    self.updater = updater


@external
def setGuardian(guardian: address):
    self._check_admin()
    log GuardianSet(previous=self.guardian, guardian=guardian)
    self.guardian = guardian


@external
def setTimelock(timelock_: uint256):
    """
    @notice Applies to later proposals; a pending root keeps its `validAt`.
    """
    self._check_admin()
    assert timelock_ <= MAX_TIMELOCK, "timelock too long"
    log TimelockSet(previous=self.timelock, timelock=timelock_)
    self.timelock = timelock_


@external
def pause():
    assert msg.sender == self.guardian, "not guardian"
    assert not self.paused, "already paused"
    self.paused = True
    log Paused(by=msg.sender)


@external
def unpause():
    self._check_admin()
    assert self.paused, "not paused"
    self.paused = False
    log Unpaused(by=msg.sender)


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
    @notice Propose the cumulative root of `epoch`; it replaces a pending root of an
            earlier epoch. Accepted at once when the timelock is 0.
    """
    assert not self.paused, "paused"
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
    @notice Anyone may accept the pending root once its timelock has passed.
    """
    assert not self.paused, "paused"
    assert self._pending.validAt != 0, "no pending root"
    assert block.timestamp >= self._pending.validAt, "timelock not passed"
    self._accept()


@external
def revokePendingRoot():
    assert msg.sender == self.guardian or msg.sender == self.admin, "not guardian"
    pending: PendingRoot = self._pending
    assert pending.validAt != 0, "no pending root"
    self._epochs[pending.epoch].revoked = True
    self._pending = empty(PendingRoot)
    log RootRevoked(epoch=pending.epoch, root=pending.root, by=msg.sender)


@external
@view
def pendingRoot() -> PendingRoot:
    """
    @notice The root waiting for its timelock; all zero (validAt == 0) when none is.
    """
    return self._pending


@external
@view
def epochOf(epoch: uint256) -> EpochRecord:
    """
    @notice The root proposed for `epoch` and what became of it (accepted, revoked);
            all zero (proposedAt == 0) when none was proposed.
    """
    return self._epochs[epoch]


@external
def claim(account: address, cumulative: uint256, proof: DynArray[bytes32, MAX_PROOF]) -> uint256:
    """
    @notice Pays `account` what it is owed under the accepted root; returns the amount paid.
    """
    assert not self.paused, "paused"
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
