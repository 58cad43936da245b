# pragma version ~=0.4.3
"""
@title aidnav NAV oracle
@notice Daily NAV of the AID/sAID system, posted once per ended UTC day by the
        publisher. `day` is the number of days since 1970-01-01; figures carry 18
        decimals. Also serves the sAID share price through Chainlink's
        AggregatorV3Interface with `roundId = day`, so a lending market can read it as-is.

        Roles: `admin` (two-step transfer: `transferAdmin` then `acceptAdmin` by the new
        admin; sets the other roles, the move limit and overrides, unpauses),
        `publisher` (posts), `guardian` (pauses). Admin, guardian and pause come from the
        shared module `admin_roles` (also used by RewardsDistributor).

        Guardrails of `postNav`, each a revert with its reason:
        - "paused": the guardian paused posting;
        - "not publisher": only the publisher posts;
        - "day not increasing": the day must be strictly after the last posted one;
        - "day not ended": the UTC day must have ended at the block time;
        - "share price zero";
        - "share price move too large": more than `maxMoveBps` (basis points of the last
          posted share price), unless the admin recorded an override for that day.
"""

import admin_roles

initializes: admin_roles

exports: admin_roles.__interface__


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

# public getters (Vyper has no NatSpec on state variables):
# the account that posts (`postNav`)
publisher: public(address)
# the largest share-price move between posted days, basis points of the last price
maxMoveBps: public(uint256)
# the last posted day (days since 1970-01-01); 0 before any post
latestDay: public(uint256)
_navs: HashMap[uint256, NavPoint]
_overrides: HashMap[uint256, Override]


@deploy
@payable
def __init__(maxMoveBps_: uint256):
    """
    @notice The deployer becomes admin, publisher and guardian.
    @dev Logs AdminTransferred, PublisherSet, GuardianSet, MaxMoveBpsSet, in that order.
    @param maxMoveBps_ The largest share-price move (basis points of the last posted
           price) allowed from one posted day to the next; at most 10^6.
    """
    assert maxMoveBps_ <= MAX_FINITE_BPS, "move limit out of range"
    admin_roles.__init__()
    self.publisher = msg.sender
    log PublisherSet(previous=empty(address), publisher=msg.sender)
    admin_roles._set_guardian(msg.sender)
    self.maxMoveBps = maxMoveBps_
    log MaxMoveBpsSet(previous=0, maxMoveBps=maxMoveBps_)


@external
def setPublisher(publisher: address):
    """
    @notice Name the account that posts the daily NAV.
    @dev Admin only.
    @param publisher The new publisher.
    """
    admin_roles._check_admin()
    log PublisherSet(previous=self.publisher, publisher=publisher)
    self.publisher = publisher


@external
def setMaxMoveBps(maxMoveBps_: uint256):
    """
    @notice Set the largest share-price move allowed between consecutive posted days.
    @dev Admin only; reverts "move limit out of range" above 10^6. Days with an
         override keep their own limit.
    @param maxMoveBps_ The limit in basis points of the last posted share price.
    """
    admin_roles._check_admin()
    assert maxMoveBps_ <= MAX_FINITE_BPS, "move limit out of range"
    log MaxMoveBpsSet(previous=self.maxMoveBps, maxMoveBps=maxMoveBps_)
    self.maxMoveBps = maxMoveBps_


@external
def setOverride(day: uint256, maxMoveBps_: uint256, reasonHash: bytes32):
    """
    @notice Record an audited override of the move limit for one day not yet posted.
    @dev Admin only; reverts "day already posted", "reason required", "move limit out
         of range". A second call for the same day replaces the first.
    @param day The day (days since 1970-01-01) the override applies to.
    @param maxMoveBps_ The limit for that day in basis points; max uint256 lets any
           move through.
    @param reasonHash The hash of the written reason (required, not zero).
    """
    admin_roles._check_admin()
    assert day > self.latestDay, "day already posted"
    assert reasonHash != empty(bytes32), "reason required"
    assert maxMoveBps_ <= MAX_FINITE_BPS or maxMoveBps_ == UNLIMITED, "move limit out of range"
    self._overrides[day] = Override(maxMoveBps=maxMoveBps_, reasonHash=reasonHash, setAt=block.timestamp)
    log OverrideSet(day=day, maxMoveBps=maxMoveBps_, reasonHash=reasonHash, by=msg.sender)


@external
@view
def overrideOf(day: uint256) -> Override:
    """
    @notice The override recorded for a day.
    @param day The day (days since 1970-01-01).
    @return The override (maxMoveBps, reasonHash, setAt); all zero (setAt == 0) when none
            was recorded.
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
    """
    @notice Post the figures of one ended UTC day; each day is posted once, in order.
    @dev Publisher only. Reverts "paused", "not publisher", "day out of range",
         "day not increasing", "day not ended", "share price zero", "share price out of
         range", "share price move too large" (see the contract notice).
    @param day The day (days since 1970-01-01); also the Chainlink round id.
    @param sharePrice AID per sAID, 18 decimals.
    @param navUsd The net asset value in USD, 18 decimals.
    @param aidSupply The AID supply, 18 decimals.
    @param reportHash The hash of the day's published report.
    """
    admin_roles._check_not_paused()
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
    @notice The figures posted for a day.
    @param day The day (days since 1970-01-01).
    @return The point (sharePrice, navUsd, aidSupply, reportHash, postedAt); all zero
            (postedAt == 0) when none was posted.
    """
    return self._navs[day]


@external
@view
def decimals() -> uint8:
    """
    @notice AggregatorV3 view: the decimals of the answer.
    @return 18.
    """
    return DECIMALS


@external
@view
def description() -> String[64]:
    """
    @notice AggregatorV3 view: what the feed prices.
    @return "aidnav sAID share price (AID per sAID)".
    """
    return DESCRIPTION


@external
@view
def version() -> uint256:
    """
    @notice AggregatorV3 view: the version of this feed.
    @return 2.
    """
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
    """
    @notice AggregatorV3 view: the latest posted day.
    @dev Reverts "no data" before any post.
    @return roundId (the day), answer (share price), startedAt and updatedAt (both the
            post's block time), answeredInRound (the day).
    """
    return self._round(self.latestDay)


@external
@view
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice AggregatorV3 view: the figures of one posted day.
    @dev Reverts "no data" for a day not posted.
    @param _roundId The day (days since 1970-01-01).
    @return roundId (the day), answer (share price), startedAt and updatedAt (both the
            post's block time), answeredInRound (the day).
    """
    return self._round(convert(_roundId, uint256))


@external
@view
def latestAnswer() -> int256:
    """
    @notice AggregatorV2 view: the latest share price.
    @dev Reverts "no data" before any post.
    @return The share price of the latest posted day, 18 decimals.
    """
    return self._round(self.latestDay)[1]


@external
@view
def latestTimestamp() -> uint256:
    """
    @notice AggregatorV2 view: when the latest day was posted.
    @dev Reverts "no data" before any post.
    @return The block time of the latest post.
    """
    return self._round(self.latestDay)[3]


@external
@view
def latestRound() -> uint256:
    """
    @notice AggregatorV2 view: the latest round id.
    @return The latest posted day; 0 before any post.
    """
    return self.latestDay
