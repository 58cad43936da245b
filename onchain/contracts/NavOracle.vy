# pragma version ~=0.4.3
"""
@title aidnav NAV oracle
@notice Daily NAV of the AID/sAID system, posted once per ended UTC day by the
        publisher. `day` is the number of days since 1970-01-01; figures carry 18
        decimals. Also serves the sAID share price through Chainlink's
        AggregatorV3Interface with `roundId = day`, so a lending market can read it as-is.

        Roles: `admin` (two-step transfer: `transferAdmin` then `acceptAdmin` by the new
        admin; sets the other roles, the move limit and overrides, unpauses),
        `publisher` (posts), `guardian` (pauses).

        Guardrails of `postNav`, each a revert with its reason:
        - "paused": the guardian paused posting;
        - "not publisher": only the publisher posts;
        - "day not increasing": the day must be strictly after the last posted one;
        - "day not ended": the UTC day must have ended at the block time;
        - "share price zero";
        - "share price move too large": more than `maxMoveBps` (basis points of the last
          posted share price), unless the admin recorded an override for that day.
"""


struct NavPoint:
    sharePrice: uint256
    navUsd: uint256
    aidSupply: uint256
    reportHash: bytes32
    postedAt: uint256


struct Override:
    maxMoveBps: uint256
    reasonHash: bytes32
    setAt: uint256


event NavPosted:
    day: indexed(uint256)
    sharePrice: uint256
    navUsd: uint256
    aidSupply: uint256
    reportHash: bytes32


event PublisherSet:
    previous: indexed(address)
    publisher: indexed(address)


event GuardianSet:
    previous: indexed(address)
    guardian: indexed(address)


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


event MaxMoveBpsSet:
    previous: uint256
    maxMoveBps: uint256


event OverrideSet:
    day: indexed(uint256)
    maxMoveBps: uint256
    reasonHash: bytes32
    by: indexed(address)


SECONDS_PER_DAY: constant(uint256) = 86400
BPS: constant(uint256) = 10000
# an override with this limit lets any move through ("unlimited")
UNLIMITED: constant(uint256) = max_value(uint256)
# a finite limit above this is refused (it keeps the move arithmetic far from overflow)
MAX_FINITE_BPS: constant(uint256) = 1000000
DECIMALS: constant(uint8) = 18
VERSION: constant(uint256) = 2
DESCRIPTION: constant(String[64]) = "aidnav sAID share price (AID per sAID)"

admin: public(address)
pendingAdmin: public(address)
publisher: public(address)
guardian: public(address)
paused: public(bool)
maxMoveBps: public(uint256)
latestDay: public(uint256)
_navs: HashMap[uint256, NavPoint]
_overrides: HashMap[uint256, Override]


@deploy
@payable
def __init__(maxMoveBps_: uint256):
    """
    @notice The deployer becomes admin, publisher and guardian; `maxMoveBps_` is the
            largest share-price move (basis points) allowed from one posted day to the next.
    """
    assert maxMoveBps_ <= MAX_FINITE_BPS, "move limit out of range"
    self.admin = msg.sender
    self.publisher = msg.sender
    self.guardian = msg.sender
    self.maxMoveBps = maxMoveBps_
    log AdminTransferred(previous=empty(address), admin=msg.sender)
    log PublisherSet(previous=empty(address), publisher=msg.sender)
    log GuardianSet(previous=empty(address), guardian=msg.sender)
    log MaxMoveBpsSet(previous=0, maxMoveBps=maxMoveBps_)


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
def setPublisher(publisher: address):
    self._check_admin()
    log PublisherSet(previous=self.publisher, publisher=publisher)
    self.publisher = publisher


@external
def setGuardian(guardian: address):
    self._check_admin()
    log GuardianSet(previous=self.guardian, guardian=guardian)
    self.guardian = guardian


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


@external
def setMaxMoveBps(maxMoveBps_: uint256):
    self._check_admin()
    assert maxMoveBps_ <= MAX_FINITE_BPS, "move limit out of range"
    log MaxMoveBpsSet(previous=self.maxMoveBps, maxMoveBps=maxMoveBps_)
    self.maxMoveBps = maxMoveBps_


@external
def setOverride(day: uint256, maxMoveBps_: uint256, reasonHash: bytes32):
    """
    @notice Record an audited override of the move limit for one day not yet posted:
            `maxMoveBps_` replaces the limit for that day (max uint256: any move).
            `reasonHash` is the hash of the written reason (required).
    """
    self._check_admin()
    assert day > self.latestDay, "day already posted"
    assert reasonHash != empty(bytes32), "reason required"
    assert maxMoveBps_ <= MAX_FINITE_BPS or maxMoveBps_ == UNLIMITED, "move limit out of range"
    self._overrides[day] = Override(maxMoveBps=maxMoveBps_, reasonHash=reasonHash, setAt=block.timestamp)
    log OverrideSet(day=day, maxMoveBps=maxMoveBps_, reasonHash=reasonHash, by=msg.sender)


@external
@view
def overrideOf(day: uint256) -> Override:
    """
    @notice The override recorded for `day`; all zero (setAt == 0) when none was.
    """
    return self._overrides[day]


@internal
@view
def _allowed_move(day: uint256) -> uint256:
    record: Override = self._overrides[day]
    if record.setAt != 0:
        return record.maxMoveBps
    return self.maxMoveBps


@external
def postNav(day: uint256, sharePrice: uint256, navUsd: uint256, aidSupply: uint256, reportHash: bytes32):
    assert not self.paused, "paused"
    assert msg.sender == self.publisher, "not publisher"
    assert day <= convert(max_value(uint80), uint256), "day out of range"
    assert day > self.latestDay, "day not increasing"
    assert (day + 1) * SECONDS_PER_DAY <= block.timestamp, "day not ended"
    assert sharePrice > 0, "share price zero"
    assert sharePrice <= convert(max_value(uint128), uint256), "share price out of range"
    last: uint256 = self._navs[self.latestDay].sharePrice
    if last != 0:
        allowed: uint256 = self._allowed_move(day)
        if allowed != UNLIMITED:
            move: uint256 = sharePrice - last if sharePrice >= last else last - sharePrice
            # move / last <= allowed / BPS; prices below 2**128 and limits up to 10**6
            # keep both products far from overflow
            assert move * BPS <= last * allowed, "share price move too large"
    self._navs[day] = NavPoint(
        sharePrice=sharePrice,
        navUsd=navUsd,
        aidSupply=aidSupply,
        reportHash=reportHash,
        postedAt=block.timestamp,
    )
    self.latestDay = day
    log NavPosted(day=day, sharePrice=sharePrice, navUsd=navUsd, aidSupply=aidSupply, reportHash=reportHash)


@external
@view
def navOf(day: uint256) -> NavPoint:
    """
    @notice The figures posted for `day`; all zero (postedAt == 0) when none were.
    """
    return self._navs[day]


@external
@view
def decimals() -> uint8:
    return DECIMALS


@external
@view
def description() -> String[64]:
    return DESCRIPTION


@external
@view
def version() -> uint256:
    return VERSION


@internal
@view
def _round(day: uint256) -> (uint80, int256, uint256, uint256, uint80):
    point: NavPoint = self._navs[day]
    assert point.postedAt != 0, "no data"
    round_id: uint80 = convert(day, uint80)
    return (round_id, convert(point.sharePrice, int256), point.postedAt, point.postedAt, round_id)


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    return self._round(self.latestDay)


@external
@view
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    return self._round(convert(_roundId, uint256))


@external
@view
def latestAnswer() -> int256:
    """
    @notice AggregatorV2 view: the latest share price (reverts "no data" before any post).
    """
    return self._round(self.latestDay)[1]


@external
@view
def latestTimestamp() -> uint256:
    return self._round(self.latestDay)[3]


@external
@view
def latestRound() -> uint256:
    return self.latestDay
