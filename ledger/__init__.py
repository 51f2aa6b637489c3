"""credit-ledger domain: immutable credit events, pure rules over histories, one write path."""
