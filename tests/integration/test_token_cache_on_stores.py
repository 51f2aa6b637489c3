"""Verified tokens are cached per process, yet a change stored by another process is honoured."""

from __future__ import annotations

from ledger.service.application import CreditLedger
from ledger.store.stores import persistence_env
from tests.support import ADMIN


def test_a_revocation_in_one_ledger_is_honoured_by_the_other(store_url: str) -> None:
    # Two applications on one store stand for two `serve` processes: neither shares memory.
    env = persistence_env(store_url, wait_seconds=5)
    first, second = CreditLedger(env=env), CreditLedger(env=env)
    try:
        kept = first.issue_token(role="reader", actor=ADMIN, name="kept")
        revoked = first.issue_token(role="auditor", actor=ADMIN, name="revoked")
        for ledger in (first, second):
            assert ledger.authenticate(kept.secret) is not None
            assert ledger.authenticate(revoked.secret) is not None
        # Both now answer from their caches.
        assert len(second.verified_tokens.actors) == 2

        assert first.revoke_token(revoked.info.token_id, actor=ADMIN)
        assert second.authenticate(revoked.secret) is None
        assert second.authenticate(kept.secret) is not None
        assert first.authenticate(revoked.secret) is None

        # A token issued elsewhere after the caches filled is admitted, and unknown ones never.
        late = second.issue_token(role="reader", actor=ADMIN, name="late")
        actor = first.authenticate(late.secret)
        assert actor is not None
        assert actor.actor_id == late.info.token_id
        assert first.authenticate(late.secret + "x") is None
        assert len(first.verified_tokens.actors) == 1  # the change emptied it; unknowns stay out
        # Reading again after the change needs no change: cached answers agree with the log.
        for ledger in (first, second):
            assert ledger.authenticate(revoked.secret) is None
            assert ledger.authenticate(kept.secret) is not None
            assert ledger.authenticate(late.secret) is not None
    finally:
        first.close()
        second.close()
