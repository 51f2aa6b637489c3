"""credit-ledger domain: immutable credit events, pure rules over their histories, one write path."""
