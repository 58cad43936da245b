# pragma version ~=0.4.3
"""
@title Staked AID (sAID)
@notice ERC-4626 vault over AID. The decimals offset is 0, so the vault has 18 decimals
        and the first deposit mints one sAID per AID; the share price then rises as AID
        (the yield) is transferred into the vault.
"""

from ethereum.ercs import IERC20
from snekmate.extensions import erc4626

initializes: erc4626

exports: erc4626.__interface__


@deploy
@payable
def __init__(aid: IERC20):
    erc4626.__init__("Staked AID (aidnav demo)", "sAID", aid, 0, "Staked AID (aidnav demo)", "1")
