"""The event store: recorders with the hash chain, the fast codec, URLs, faults, stream reads.

The only code that knows SQL for events or asks which database it is on; everything else asks
it. Opening a store with the configured bounds is the composition root's (`credit_ledger`).
"""
