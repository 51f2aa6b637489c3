"""The edges of the evaluation rules: the first and last day a fact counts, repairs, notes."""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from uuid import UUID

import pytest

from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.fold import fold
from ledger.domain.model import EvaluationModel, ModelRegistry, default_models
from ledger.domain.rules.grade import (
    ActiveListing,
    Contribution,
    Evaluation,
    Excluded,
    evaluate,
    evaluate_history,
    fact_counts_at,
    next_change_on,
    result_changed,
)
from ledger.domain.rules.repair import repair_eligible_on
from ledger.domain.state import (
    FactState,
    ListingState,
    Membership,
    ObjectionState,
    SubjectState,
    Suspension,
)

MODELS = default_models()
MODEL = MODELS.in_force(date(2023, 1, 1)).model
RECORDED = datetime(2024, 6, 1, tzinfo=UTC)
KNOWN = datetime(2025, 1, 1, tzinfo=UTC)


def fact(
    indicator: str,
    decided_on: date,
    n: int = 1,
    *,
    effective_until: date | None = None,
    ended_on: date | None = None,
    suspensions: tuple[Suspension, ...] = (),
) -> FactState:
    return FactState(
        fact_id=UUID(int=n),
        indicator=indicator,
        decided_on=decided_on,
        domain="market_regulation",
        document_no=f"doc-{n}",
        description=None,
        effective_until=effective_until,
        recorded_at=RECORDED,
        ended_on=ended_on,
        suspensions=list(suspensions),
    )


def repaired(start: date, until: date | None = None) -> Suspension:
    return Suspension(repair_id=UUID(int=900), start=start, until=until)


def subject(*facts: FactState, established_on: date | None = None) -> SubjectState:
    return SubjectState(
        uscc="91410481MA0000000X",
        name="Acme Trading",
        kind="enterprise",
        established_on=established_on,
        registered_at=RECORDED,
        facts={f.fact_id: f for f in facts},
    )


def listing(list_type: str, listed_on: date, n: int = 50, **kw: object) -> ListingState:
    return ListingState(
        listing_id=UUID(int=n),
        list_type=list_type,
        listed_on=listed_on,
        domain="courts",
        document_no=f"list-{n}",
        authority="People's Court",
        recorded_at=RECORDED,
        **kw,  # type: ignore[arg-type]
    )


# --- the window in which a fact counts ---------------------------------------------------------


def test_a_fact_counts_from_its_decision_day_until_the_day_before_its_period_ends() -> None:
    general = fact("penalty.general", date(2022, 3, 15))
    assert fact_counts_at(general, date(2022, 3, 14), MODEL) == (
        False,
        None,
        "decided on 2022-03-15, after the evaluation date",
    )
    assert fact_counts_at(general, date(2022, 3, 15), MODEL) == (True, date(2023, 3, 15), "")
    assert fact_counts_at(general, date(2023, 3, 14), MODEL) == (True, date(2023, 3, 15), "")
    assert fact_counts_at(general, date(2023, 3, 15), MODEL) == (
        False,
        None,
        "stopped counting on 2023-03-15",
    )


def test_a_fact_decided_on_29_february_stops_counting_on_28_february_a_year_later() -> None:
    leap = fact("penalty.general", date(2024, 2, 29))
    assert fact_counts_at(leap, date(2025, 2, 27), MODEL) == (True, date(2025, 2, 28), "")
    assert fact_counts_at(leap, date(2025, 2, 28), MODEL)[0] is False


def test_effective_until_ends_the_window_when_earlier_than_the_period() -> None:
    short = fact("penalty.general", date(2022, 3, 15), effective_until=date(2022, 9, 1))
    assert fact_counts_at(short, date(2022, 8, 31), MODEL) == (True, date(2022, 9, 1), "")
    assert fact_counts_at(short, date(2022, 9, 1), MODEL) == (
        False,
        None,
        "stopped counting on 2022-09-01",
    )


def test_an_ended_fact_stops_counting_on_its_end_date_whichever_end_comes_first() -> None:
    ended = fact(
        "penalty.general",
        date(2022, 3, 15),
        effective_until=date(2022, 9, 1),
        ended_on=date(2022, 6, 1),
    )
    assert fact_counts_at(ended, date(2022, 5, 31), MODEL) == (True, date(2022, 6, 1), "")
    assert fact_counts_at(ended, date(2022, 6, 1), MODEL)[0] is False


def test_an_open_ended_fact_counts_without_end_until_it_is_ended() -> None:
    arrears = fact("tax.arrears", date(2020, 5, 1))
    assert fact_counts_at(arrears, date(2030, 1, 1), MODEL) == (True, None, "")
    ended = fact("tax.arrears", date(2020, 5, 1), ended_on=date(2021, 1, 1))
    assert fact_counts_at(ended, date(2020, 12, 31), MODEL) == (True, date(2021, 1, 1), "")


def test_void_and_unknown_facts_never_count_and_say_why() -> None:
    revoked = fact("penalty.general", date(2022, 3, 15))
    revoked.revoked = True
    voided = fact("penalty.general", date(2022, 3, 15))
    voided.voided_by = UUID(int=77)
    unknown = fact("penalty.invented", date(2022, 3, 15))
    day = date(2022, 4, 1)
    assert fact_counts_at(revoked, day, MODEL) == (False, None, "revoked: void from the start")
    assert fact_counts_at(voided, day, MODEL) == (
        False,
        None,
        f"voided by objection {UUID(int=77)}",
    )
    assert fact_counts_at(unknown, day, MODEL) == (False, None, "indicator not in model PCCE-2021")


# --- repairs suspend a fact ----------------------------------------------------------------------


def test_an_approved_repair_stops_the_fact_from_its_decision_date() -> None:
    repaired_fact = fact(
        "penalty.general", date(2022, 3, 15), suspensions=(repaired(date(2022, 7, 1)),)
    )
    assert fact_counts_at(repaired_fact, date(2022, 6, 30), MODEL) == (True, date(2022, 7, 1), "")
    assert fact_counts_at(repaired_fact, date(2022, 7, 1), MODEL) == (
        False,
        None,
        "repaired from 2022-07-01",
    )


def test_a_future_repair_bounds_an_open_ended_fact() -> None:
    arrears = fact("tax.arrears", date(2020, 5, 1), suspensions=(repaired(date(2021, 2, 1)),))
    assert fact_counts_at(arrears, date(2021, 1, 31), MODEL) == (True, date(2021, 2, 1), "")


def test_a_repair_after_the_window_does_not_move_its_end() -> None:
    late = fact("penalty.general", date(2022, 3, 15), suspensions=(repaired(date(2023, 5, 1)),))
    assert fact_counts_at(late, date(2022, 4, 1), MODEL) == (True, date(2023, 3, 15), "")


def test_a_revoked_repair_lets_the_fact_count_again_from_the_revocation() -> None:
    revoked = repaired(date(2022, 7, 1), until=date(2022, 8, 1))
    again = fact("penalty.general", date(2022, 3, 15), suspensions=(revoked,))
    assert fact_counts_at(again, date(2022, 7, 31), MODEL)[0] is False
    # The past suspension no longer bounds the window: it runs to the period's end.
    assert fact_counts_at(again, date(2022, 8, 1), MODEL) == (True, date(2023, 3, 15), "")


def test_a_repair_approved_and_revoked_on_the_evaluation_date_does_not_end_the_window() -> None:
    same_day = repaired(date(2022, 7, 1), until=date(2022, 7, 1))
    still = fact("penalty.general", date(2022, 3, 15), suspensions=(same_day,))
    assert fact_counts_at(still, date(2022, 7, 1), MODEL) == (True, date(2023, 3, 15), "")


def test_repair_eligibility_follows_the_severity_minimum_publication_period() -> None:
    assert repair_eligible_on(fact("penalty.minor", date(2022, 3, 15)), MODEL) == date(2022, 3, 15)
    assert repair_eligible_on(fact("penalty.general", date(2022, 3, 15)), MODEL) == date(
        2022, 6, 15
    )
    assert repair_eligible_on(fact("penalty.serious", date(2024, 2, 29)), MODEL) == date(
        2025, 2, 28
    )
    assert repair_eligible_on(fact("honor.national", date(2022, 3, 15)), MODEL) is None


def test_repair_eligibility_of_an_unknown_indicator_is_refused_naming_the_target() -> None:
    with pytest.raises(InvalidInput, match=r"unknown indicator 'penalty\.invented'") as refused:
        repair_eligible_on(fact("penalty.invented", date(2022, 3, 15)), MODEL)
    assert refused.value.field == "target_id"


# --- the evaluation as a whole ------------------------------------------------------------------


def test_an_evaluation_explains_every_fact_listing_and_note() -> None:
    deduction = fact("penalty.general", date(2022, 3, 15), 2)
    deduction.corrected_by = [UUID(int=300)]
    bonus = fact("honor.national", date(2022, 3, 15), 1)
    too_early = fact("penalty.minor", date(2023, 1, 1), 3)
    ended_today = fact("penalty.minor", date(2022, 6, 1), 4, ended_on=date(2022, 6, 1))
    revoked_later = fact("penalty.serious", date(2022, 9, 1), 5)
    revoked_later.revoked = True
    state = subject(deduction, bonus, too_early, ended_today, revoked_later)
    state.established_on = date(2022, 6, 1)
    court = listing("judgment_defaulter", date(2022, 1, 1), delisted_on=date(2022, 12, 1))
    state.listings = {court.listing_id: court}
    objection = ObjectionState(
        objection_id=UUID(int=600),
        target_id=deduction.fact_id,
        target_kind="fact",
        filed_on=date(2022, 5, 1),
        grounds="wrong company",
        due_on=date(2022, 5, 20),
        recorded_at=RECORDED,
    )
    state.objections = {objection.objection_id: objection}

    assert evaluate(state, date(2022, 6, 1), KNOWN, MODELS) == Evaluation(
        uscc="91410481MA0000000X",
        name="Acme Trading",
        as_of=date(2022, 6, 1),
        known_at=KNOWN,
        model="PCCE-2021",
        model_note=None,
        score=Decimal(80),
        grade="差",
        grade_en="poor",
        score_grade="良",
        listed=True,
        listings=(
            ActiveListing(
                listing_id=UUID(int=50),
                list_type="judgment_defaulter",
                listed_on=date(2022, 1, 1),
                delisted_on=date(2022, 12, 1),
                authority="People's Court",
                domain="courts",
                document_no="list-50",
                under_objection=False,
                overrides_grade=True,
            ),
        ),
        contributions=(
            Contribution(
                fact_id=UUID(int=1),
                indicator="honor.national",
                kind="bonus",
                points=Decimal(5),
                decided_on=date(2022, 3, 15),
                counts_until=date(2025, 3, 15),
                under_objection=False,
                domain="market_regulation",
                document_no="doc-1",
                corrected=False,
            ),
            Contribution(
                fact_id=UUID(int=2),
                indicator="penalty.general",
                kind="deduction",
                points=Decimal(-5),
                decided_on=date(2022, 3, 15),
                counts_until=date(2023, 3, 15),
                under_objection=True,
                domain="market_regulation",
                document_no="doc-2",
                corrected=True,
            ),
        ),
        excluded=(
            Excluded(UUID(int=4), "penalty.minor", "stopped counting on 2022-06-01"),
            Excluded(UUID(int=5), "penalty.serious", "revoked: void from the start"),
        ),
        deductions=Decimal(5),
        bonuses=Decimal(5),
        bonuses_counted=Decimal(5),
        established=True,
        notes=("on a joint dishonesty list: graded 差 whatever the score",),
    )


def test_an_unlisted_subject_with_nothing_unusual_has_no_notes() -> None:
    evaluation = evaluate(
        subject(fact("penalty.general", date(2022, 3, 15))), date(2022, 4, 1), KNOWN, MODELS
    )
    assert (evaluation.score, evaluation.grade, evaluation.notes) == (Decimal(75), "良", ())
    assert (evaluation.listed, evaluation.listings, evaluation.established) == (False, (), True)


def test_bonuses_above_the_cap_count_only_up_to_it_and_say_so() -> None:
    honours = [fact("honor.national", date(2022, 3, 15), n) for n in range(1, 6)]
    evaluation = evaluate(subject(*honours), date(2022, 4, 1), KNOWN, MODELS)
    assert (evaluation.bonuses, evaluation.bonuses_counted) == (Decimal(25), Decimal(20))
    assert evaluation.score == Decimal(100)
    assert evaluation.notes == ("bonuses 25 capped at 20",)


def test_a_score_below_the_floor_is_clamped_and_says_so() -> None:
    penalties = [fact("penalty.serious", date(2022, 3, 15), n) for n in range(1, 7)]
    evaluation = evaluate(subject(*penalties), date(2022, 4, 1), KNOWN, MODELS)
    assert (evaluation.deductions, evaluation.score, evaluation.grade) == (
        Decimal(90),
        Decimal(0),
        "差",
    )
    assert evaluation.notes == ("score -10 clamped to [0, 100]",)


def test_a_date_before_the_first_model_version_is_evaluated_on_the_baseline_with_a_note() -> None:
    evaluation = evaluate(subject(), date(2020, 6, 1), KNOWN, MODELS)
    note = (
        "2020-06-01 precedes the first model version; "
        "PCCE-2021 (from 2021-01-01) applied as baseline"
    )
    assert evaluation.model_note == note
    assert evaluation.notes == (note,)


def test_a_subject_is_established_on_its_founding_day_and_not_the_day_before() -> None:
    state = subject(established_on=date(2022, 6, 1))
    assert evaluate(state, date(2022, 6, 1), KNOWN, MODELS).established is True
    before = evaluate(state, date(2022, 5, 31), KNOWN, MODELS)
    assert before.established is False
    assert before.notes == ("subject established on 2022-06-01, after the evaluation date",)


def test_facts_decided_the_same_day_are_listed_in_fact_id_order() -> None:
    later_id = fact("penalty.minor", date(2022, 3, 15), 9)
    earlier_id = fact("penalty.minor", date(2022, 3, 15), 8)
    first = fact("penalty.minor", date(2022, 3, 1), 10)
    evaluation = evaluate(subject(later_id, earlier_id, first), date(2022, 4, 1), KNOWN, MODELS)
    assert [c.fact_id.int for c in evaluation.contributions] == [10, 8, 9]


def test_an_unregistered_subject_is_not_found_as_of_the_record_time() -> None:
    with pytest.raises(NotFound) as refused:
        evaluate(SubjectState(), date(2022, 4, 1), KNOWN, MODELS)
    assert (refused.value.message, refused.value.field, refused.value.rule) == (
        "subject not known at 2025-01-01T00:00:00+00:00",
        "known_at",
        "record time",
    )


# --- folding as known at K ----------------------------------------------------------------------


@dataclass(frozen=True)
class Renamed:
    """A minimal stored event: it renames the subject (and the first one registers it)."""

    timestamp: datetime
    name: str

    def fold(self, state: SubjectState) -> None:
        state.registered_at = state.registered_at or self.timestamp
        state.name = self.name


def test_the_fold_as_known_at_k_stops_at_the_first_event_recorded_after_k() -> None:
    events = [
        Renamed(datetime(2024, 1, 1, tzinfo=UTC), "Old Name"),
        Renamed(datetime(2024, 2, 1, tzinfo=UTC), "New Name"),
    ]
    state = fold(events, datetime(2024, 1, 15, tzinfo=UTC))
    assert (state.name, state.last_recorded_at) == ("Old Name", events[0].timestamp)
    assert fold(events, events[1].timestamp).last_recorded_at == events[1].timestamp
    assert fold(events).name == "New Name"
    evaluation = evaluate_history(events, date(2022, 4, 1), events[1].timestamp, MODELS)
    assert (evaluation.name, evaluation.known_at) == ("New Name", events[1].timestamp)


# --- when an evaluation next changes by itself --------------------------------------------------


def test_the_next_change_is_the_earliest_end_of_a_contribution_or_listing() -> None:
    state = subject(
        fact("penalty.general", date(2022, 3, 15), 1), fact("honor.national", date(2022, 3, 15), 2)
    )
    court = listing("serious_illegal_dishonest", date(2022, 1, 1), delisted_on=date(2023, 1, 1))
    state.listings = {court.listing_id: court}
    evaluation = evaluate(state, date(2022, 4, 1), KNOWN, MODELS)
    assert next_change_on(evaluation, MODELS) == date(2023, 1, 1)
    state.listings = {}
    assert next_change_on(evaluate(state, date(2022, 4, 1), KNOWN, MODELS), MODELS) == date(
        2023, 3, 15
    )


def test_an_evaluation_with_nothing_ending_never_changes_by_itself() -> None:
    state = subject(fact("tax.arrears", date(2022, 3, 15)))
    court = listing("judgment_defaulter", date(2022, 1, 1))
    state.listings = {court.listing_id: court}
    assert next_change_on(evaluate(state, date(2022, 4, 1), KNOWN, MODELS), MODELS) is None


def test_a_later_model_version_is_a_change_but_one_in_force_on_the_day_is_not() -> None:
    raw = tomllib.loads(
        (resources.files("ledger.domain") / "data" / "models" / "pcce-2021.toml").read_text("utf-8")
    )
    later = copy.deepcopy(raw)
    later["version"], later["effective_from"] = "PCCE-2026", date(2026, 1, 1)
    models = ModelRegistry([EvaluationModel.from_toml(raw), EvaluationModel.from_toml(later)])
    state = subject(fact("tax.arrears", date(2022, 3, 15)))
    assert next_change_on(evaluate(state, date(2022, 4, 1), KNOWN, models), models) == date(
        2026, 1, 1
    )
    assert next_change_on(evaluate(state, date(2026, 1, 1), KNOWN, models), models) is None


# --- the state's own small rules ----------------------------------------------------------------


def test_an_objection_is_open_from_its_filing_day_until_the_day_it_is_resolved() -> None:
    objection = ObjectionState(
        objection_id=UUID(int=1),
        target_id=UUID(int=2),
        target_kind="fact",
        filed_on=date(2022, 5, 1),
        grounds="wrong company",
        due_on=date(2022, 5, 20),
        recorded_at=RECORDED,
        outcome="upheld",
        resolved_on=date(2022, 5, 10),
    )
    opened = [
        objection.pending_on(d)
        for d in (date(2022, 4, 30), date(2022, 5, 1), date(2022, 5, 9), date(2022, 5, 10))
    ]
    assert opened == [False, True, True, False]


def test_a_subject_is_in_a_field_from_joining_until_leaving_and_never_before_founding() -> None:
    state = subject(established_on=date(2020, 1, 1))
    state.memberships = [
        Membership("taxation", since=date(2021, 1, 1), until=date(2022, 1, 1)),
        Membership("courts", since=None),
    ]
    assert [
        state.in_field_on("taxation", d)
        for d in (date(2020, 12, 31), date(2021, 1, 1), date(2021, 12, 31), date(2022, 1, 1))
    ] == [False, True, True, False]
    assert state.in_field_on("courts", date(2020, 1, 1)) is True
    assert state.in_field_on("courts", date(2019, 12, 31)) is False
    assert state.in_field_on("market_entities", date(2021, 6, 1)) is False


# --- grade thresholds and listing windows -------------------------------------------------------


@pytest.mark.parametrize(
    ("indicators", "score", "grade"),
    [
        (("honor.national",), 85, "良"),
        (("honor.national", "commitment.kept"), 86, "优"),
        (("wage.arrears",), 70, "中"),
        (("wage.arrears", "commitment.kept"), 71, "良"),
        (("penalty.serious", "penalty.serious"), 50, "差"),
        (("penalty.serious", "penalty.serious", "commitment.kept"), 51, "中"),
    ],
)
def test_a_grade_applies_only_strictly_above_its_threshold(
    indicators: tuple[str, ...], score: int, grade: str
) -> None:
    facts = [fact(code, date(2022, 3, 15), n) for n, code in enumerate(indicators, start=1)]
    evaluation = evaluate(subject(*facts), date(2022, 4, 1), KNOWN, MODELS)
    assert (evaluation.score, evaluation.grade, evaluation.score_grade) == (
        Decimal(score),
        grade,
        grade,
    )


def test_a_listing_overrides_the_grade_from_its_listing_day_until_the_day_it_is_delisted() -> None:
    state = subject(fact("honor.national", date(2022, 3, 15)))
    court = listing("judgment_defaulter", date(2022, 5, 1), delisted_on=date(2022, 8, 1))
    state.listings = {court.listing_id: court}
    grades = [
        evaluate(state, day, KNOWN, MODELS).grade
        for day in (date(2022, 4, 30), date(2022, 5, 1), date(2022, 7, 31), date(2022, 8, 1))
    ]
    assert grades == ["良", "差", "差", "良"]


def test_a_listing_delisted_as_revoked_never_held() -> None:
    state = subject()
    revoked = listing(
        "judgment_defaulter",
        date(2022, 5, 1),
        delisted_on=date(2022, 8, 1),
        delist_reason="revoked",
    )
    state.listings = {revoked.listing_id: revoked}
    evaluation = evaluate(state, date(2022, 6, 1), KNOWN, MODELS)
    assert (evaluation.listed, evaluation.listings, evaluation.grade) == (False, (), "良")


def test_a_result_changes_with_its_score_grade_or_listing_and_with_entering_the_population() -> (
    None
):
    day, known = date(2023, 10, 31), datetime(2023, 11, 1, tzinfo=UTC)
    base = evaluate(subject(fact("penalty.general", date(2023, 3, 15), 1)), day, known, MODELS)
    same = evaluate(subject(fact("penalty.general", date(2023, 3, 15), 2)), day, known, MODELS)
    assert not result_changed(base, same)  # another fact, the same result
    assert not result_changed(None, None)
    assert result_changed(None, base)
    assert result_changed(base, None)
    assert result_changed(base, replace(base, score=base.score + 1))
    assert result_changed(base, replace(base, grade="差"))
    assert result_changed(base, replace(base, listed=not base.listed))
    assert not result_changed(base, replace(base, as_of=date(2023, 11, 1)))  # only the result
