# pragma version ~=0.4.3
"""
@title aidnav NAV oracle
@notice Daily NAV of the AID/sAID system, posted once per ended UTC day by the
        publisher. `day` is the number of days since 1970-01-01; figures carry 18
        decimals. Also serves the sAID share price through Chainlink's
        AggregatorV3Interface with `roundId = day`.
"""

from snekmate.auth import ownable

initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
)


struct NavPoint:
    sharePrice: uint256
    navUsd: uint256
    aidSupply: uint256
    reportHash: bytes32
    postedAt: uint256


event NavPosted:
    day: indexed(uint256)
    sharePrice: uint256
    navUsd: uint256
    aidSupply: uint256
    reportHash: bytes32


event PublisherSet:
    previous: indexed(address)
    publisher: indexed(address)


SECONDS_PER_DAY: constant(uint256) = 86400
DECIMALS: constant(uint8) = 18
VERSION: constant(uint256) = 1
DESCRIPTION: constant(String[64]) = "aidnav sAID share price (AID per sAID)"

publisher: public(address)
latestDay: public(uint256)
_navs: HashMap[uint256, NavPoint]


@deploy
@payable
def __init__():
    ownable.__init__()


@external
def setPublisher(publisher: address):
    ownable._check_owner()
    log PublisherSet(previous=self.publisher, publisher=publisher)
    self.publisher = publisher


@external
def postNav(day: uint256, sharePrice: uint256, navUsd: uint256, aidSupply: uint256, reportHash: bytes32):
    assert msg.sender == self.publisher, "not publisher"
    assert day <= convert(max_value(uint80), uint256), "day out of range"
    assert day > self.latestDay, "day not increasing"
    assert (day + 1) * SECONDS_PER_DAY <= block.timestamp, "day not ended"
    assert sharePrice > 0, "share price zero"
    assert sharePrice <= convert(max_value(int256), uint256), "share price out of range"
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
