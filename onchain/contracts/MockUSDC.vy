# pragma version ~=0.4.3
"""
@title Mock USDC
@notice ERC-20 token (USDC, 6 decimals) for the aidnav demo chain. The deployer is the
        owner and the first minter; `mint(owner, amount)` is minter-only, `burn` and
        `burn_from` follow snekmate's erc20.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
@payable
def __init__():
    ownable.__init__()
    erc20.__init__("USD Coin (aidnav demo)", "USDC", 6, "USD Coin (aidnav demo)", "1")
