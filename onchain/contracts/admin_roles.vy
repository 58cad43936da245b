# pragma version ~=0.4.3
"""
@title Admin, guardian and pause of the aidnav contracts
@notice A module, not a deployable contract: NavOracle and RewardsDistributor initialise
        it and export its interface, so both hold their admin, guardian and pause the same
        way.

        - `admin`: two-step transfer (`transferAdmin` by the admin, then `acceptAdmin` by
          the new admin; the zero address cancels); sets the guardian; unpauses.
        - `guardian`: pauses. The contract's own work checks `_check_not_paused`.

        Reverts: "not admin", "not guardian", "no pending admin", "not pending admin",
        "already paused", "not paused", and "paused" from `_check_not_paused`.
@dev snekmate 0.1.2's `ownable_2step` and `pausable` cannot express this interface:
     they name the functions `transfer_ownership` / `accept_ownership` / `owner`, revert
     with "ownable: caller is not the owner" and "pausable: contract is paused", log
     `OwnershipTransferred(previous_owner, new_owner)` and `Paused(account)`, export a
     `renounce_ownership`, and have no guardian; the publisher, the tests and any log
     reader see these names and reasons. The importing contract's `__init__` must call
     `__init__()` first and `_set_guardian(msg.sender)` after announcing its own work role,
     so a deployment logs AdminTransferred, the work role, GuardianSet, the limits.
"""


event AdminTransferStarted:
    admin: indexed(address)
    pendingAdmin: indexed(address)


event AdminTransferred:
    previous: indexed(address)
    admin: indexed(address)


event GuardianSet:
    previous: indexed(address)
    guardian: indexed(address)


event Paused:
    by: indexed(address)


event Unpaused:
    by: indexed(address)


# public getters (Vyper has no NatSpec on state variables):
# the account with every admin right
admin: public(address)
# the account named by `transferAdmin`, not yet accepted; zero when none
pendingAdmin: public(address)
# the account that may pause
guardian: public(address)
# True while the contract's own work is stopped
paused: public(bool)


@deploy
@payable
def __init__():
    """
    @notice The deployer becomes admin; the importing contract names the guardian.
    """
    self.admin = msg.sender
    log AdminTransferred(previous=empty(address), admin=msg.sender)


@internal
@view
def _check_admin():
    """
    @dev Reverts "not admin" unless the caller is the admin.
    """
    assert msg.sender == self.admin, "not admin"


@internal
@view
def _check_not_paused():
    """
    @dev Reverts "paused" while the guardian has paused the contract.
    """
    assert not self.paused, "paused"


@internal
def _set_guardian(guardian: address):
    """
    @dev Names `guardian` without an access check (the constructor uses it).
    """
    log GuardianSet(previous=self.guardian, guardian=guardian)
    self.guardian = guardian


@external
def transferAdmin(newAdmin: address):
    """
    @notice Step one of the admin transfer; `acceptAdmin` by `newAdmin` completes it.
            Until then the current admin keeps every right and `newAdmin` has none.
    @dev Admin only. A new call replaces the pending admin; the zero address cancels.
    @param newAdmin The account that may accept the admin role.
    """
    self._check_admin()
    self.pendingAdmin = newAdmin
    log AdminTransferStarted(admin=msg.sender, pendingAdmin=newAdmin)


@external
def acceptAdmin():
    """
    @notice Step two of the admin transfer: the pending admin becomes the admin.
    @dev Reverts "no pending admin" when no transfer is pending, "not pending admin"
         for any other caller. Clears the pending admin.
    """
    assert self.pendingAdmin != empty(address), "no pending admin"
    assert msg.sender == self.pendingAdmin, "not pending admin"
    previous: address = self.admin
    self.admin = msg.sender
    self.pendingAdmin = empty(address)
    log AdminTransferred(previous=previous, admin=msg.sender)


@external
def setGuardian(guardian: address):
    """
    @notice Name the account that may pause the contract.
    @dev Admin only; the admin itself pauses only while it is also the guardian.
    @param guardian The new guardian (the zero address leaves no one able to pause).
    """
    self._check_admin()
    self._set_guardian(guardian)


@external
def pause():
    """
    @notice Stop the contract's own work until the admin unpauses.
    @dev Guardian only; reverts "already paused" when paused.
    """
    assert msg.sender == self.guardian, "not guardian"
    assert not self.paused, "already paused"
    self.paused = True
    log Paused(by=msg.sender)


@external
def unpause():
    """
    @notice Resume the contract's work after a pause.
    @dev Admin only (the guardian cannot unpause unless it is also the admin);
         reverts "not paused" when not paused.
    """
    self._check_admin()
    assert self.paused, "not paused"
    self.paused = False
    log Unpaused(by=msg.sender)
