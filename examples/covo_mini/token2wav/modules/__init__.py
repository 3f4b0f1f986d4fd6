"""Building blocks of the token2wav decoder."""
