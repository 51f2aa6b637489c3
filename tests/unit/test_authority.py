"""Who may record what (DOMAIN §4): the model's authority table and the one function deciding it."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import date
from importlib import resources
from typing import Any

import pytest

from credit_ledger.demo import DemoSummary, subject_actions
from ledger.domain.catalog import catalogue
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.errors import Forbidden
from ledger.domain.model import EvaluationModel, ModelRegistry, default_models
from ledger.domain.rules.authority import (
    Correct,
    Enrol,
    InField,
    PutOnList,
    RecordIndicator,
    Refusal,
    decide,
)
from ledger.domain.values import SYSTEM_ACTOR, Actor, ListType, Role
from ledger.service.application import CreditLedger
from tests.support import StepClock, recorder, uscc

ANY = "any field, in its own domain"
ADMIN = "admins only"

#: DOMAIN §4's table, restated here on purpose: the model file must say the same.
INDICATORS: dict[str, str | frozenset[str]] = {
    "penalty.minor": ANY,
    "penalty.general": ANY,
    "penalty.serious": ANY,
    "contract.default": ANY,
    "wage.arrears": frozenset({"labour_employment"}),
    "social_insurance.arrears": frozenset({"labour_employment"}),
    "tax.arrears": frozenset({"taxation"}),
    "business.anomaly": frozenset({"market_entities"}),
    "tax.a_level": frozenset({"taxation"}),
    "honor.municipal": ANY,
    "honor.provincial": ANY,
    "honor.national": ANY,
    "commitment.kept": ANY,
}
LIST_TYPES: dict[str, str | frozenset[str]] = {
    "major_tax_violation": frozenset({"taxation"}),
    "serious_illegal_dishonest": ANY,
    "other_joint_punishment": ANY,
    "judgment_defaulter": ADMIN,
}
KIND = {code: "bonus" if code.startswith(("tax.a_", "honor.", "commit")) else "deduction"
        for code in INDICATORS}  # fmt: skip
FIELDS = sorted(catalogue().fields)
ADMIN_ACTOR = Actor("token:admin", Role.ADMIN)
UNRESTRICTED = [ADMIN_ACTOR, SYSTEM_ACTOR]
MODEL = default_models().in_force(date(2024, 1, 1)).model


def expected_fields(entry: str | frozenset[str]) -> set[str]:
    """The fields whose recorders may record an entry, each in its own domain."""
    if entry == ANY:
        return set(FIELDS)
    if entry == ADMIN:
        return set()
    assert isinstance(entry, frozenset)
    return set(entry)


def raw_model() -> dict[str, Any]:
    return tomllib.loads(
        (resources.files("ledger.domain") / "data" / "models" / "pcce-2021.toml").read_text("utf-8")
    )


# -- the table as model data --------------------------------------------------------------------


def test_the_shipped_model_holds_the_table_of_domain_section_4() -> None:
    table = MODEL.authority
    assert {c: r.describe() for c, r in table.indicators.items()} == {
        c: e if isinstance(e, str) else f"recorders of {', '.join(sorted(e))}, in that domain"
        for c, e in INDICATORS.items()
    }
    assert {c: r.describe() for c, r in table.list_types.items()} == {
        c: e if isinstance(e, str) else f"recorders of {', '.join(sorted(e))}, in that domain"
        for c, e in LIST_TYPES.items()
    }
    assert set(LIST_TYPES) == {t.value for t in ListType}
    assert {c: i.kind for c, i in MODEL.indicators.items()} == KIND


@pytest.mark.parametrize("code", sorted(INDICATORS))
def test_a_model_without_an_indicator_s_authority_entry_is_refused_naming_it(code: str) -> None:
    raw = raw_model()
    del raw["authority"]["indicators"][code]
    with pytest.raises(ValueError, match=f'authority.indicators."{code}" is missing'):
        EvaluationModel.from_toml(raw)


@pytest.mark.parametrize("code", sorted(LIST_TYPES))
def test_a_model_without_a_list_type_s_authority_entry_is_refused_naming_it(code: str) -> None:
    raw = raw_model()
    del raw["authority"]["list_types"][code]
    with pytest.raises(ValueError, match=f'authority.list_types."{code}" is missing'):
        EvaluationModel.from_toml(raw)


def test_an_authority_entry_for_no_indicator_is_refused_naming_it() -> None:
    raw = raw_model()
    raw["authority"]["indicators"]["tax.b_level"] = ["taxation"]
    with pytest.raises(
        ValueError, match=re.escape('authority.indicators."tax.b_level" names no indicator')
    ):
        EvaluationModel.from_toml(raw)
    raw = raw_model()
    raw["authority"]["list_types"]["grey_list"] = "any_field"
    with pytest.raises(
        ValueError, match=re.escape('authority.list_types."grey_list" names no list type')
    ):
        EvaluationModel.from_toml(raw)


def test_an_authority_entry_naming_a_field_not_in_the_catalogue_is_refused_naming_both() -> None:
    raw = raw_model()
    raw["authority"]["indicators"]["tax.a_level"] = ["taxation", "customs"]
    with pytest.raises(ValueError, match=r'"tax.a_level": unknown field\(s\) customs'):
        EvaluationModel.from_toml(raw)
    # The catalogue checked against is a parameter, so a model is validated against the fields
    # of the catalogue it will be used with.
    raw = raw_model()
    with pytest.raises(ValueError, match=r'"wage.arrears": unknown field\(s\) labour_employment'):
        EvaluationModel.from_toml(raw, known_fields={"taxation", "market_entities"})


@pytest.mark.parametrize("value", ["anyone", [], ["taxation", 3], {"fields": ["taxation"]}])
def test_a_malformed_authority_entry_is_refused_naming_it(value: Any) -> None:
    raw = raw_model()
    raw["authority"]["list_types"]["major_tax_violation"] = value
    with pytest.raises(
        ValueError, match=re.escape('authority.list_types."major_tax_violation": must be')
    ):
        EvaluationModel.from_toml(raw)


def test_a_model_without_an_authority_table_is_refused() -> None:
    raw = raw_model()
    del raw["authority"]
    with pytest.raises(ValueError, match="PCCE-2021: the model needs an \\[authority\\] table"):
        EvaluationModel.from_toml(raw)


# -- the decision, row by row -------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(INDICATORS))
def test_each_indicator_is_recorded_only_by_the_fields_of_its_row(code: str) -> None:
    allowed = {f for f in FIELDS if decide(recorder(f), RecordIndicator(code, f), MODEL) is None}
    assert allowed == expected_fields(INDICATORS[code])
    for field in set(FIELDS) - allowed:
        refused = decide(recorder(field), RecordIndicator(code, field), MODEL)
        assert isinstance(refused, Refusal)
        assert refused.field == "indicator"
        assert code in refused.message
        assert "PCCE-2021" in refused.rule


@pytest.mark.parametrize("code", sorted(LIST_TYPES))
def test_each_list_type_is_kept_only_by_the_fields_of_its_row(code: str) -> None:
    allowed = {f for f in FIELDS if decide(recorder(f), PutOnList(code, f), MODEL) is None}
    assert allowed == expected_fields(LIST_TYPES[code])
    for field in set(FIELDS) - allowed:
        refused = decide(recorder(field), PutOnList(code, field), MODEL)
        assert refused is not None
        assert refused.field == "list_type"


@pytest.mark.parametrize("code", sorted(INDICATORS))
def test_an_indicator_is_recorded_only_in_the_domain_of_its_row(code: str) -> None:
    # A recorder owning every field still records a restricted indicator only in that domain.
    everything = recorder(*FIELDS)
    allowed = {f for f in FIELDS if decide(everything, RecordIndicator(code, f), MODEL) is None}
    assert allowed == expected_fields(INDICATORS[code])


@pytest.mark.parametrize("code", sorted(INDICATORS))
def test_no_recorder_records_an_indicator_in_a_domain_it_does_not_own(code: str) -> None:
    for field in expected_fields(INDICATORS[code]):
        other = "food" if field != "food" else "drugs"
        refused = decide(recorder(other), RecordIndicator(code, field), MODEL)
        assert refused is not None
        assert refused.field == "domain"
        assert refused.rule == "a recorder writes only in its own fields"


@pytest.mark.parametrize("actor", UNRESTRICTED, ids=lambda a: a.role.value)
def test_admins_and_the_ledger_s_tooling_may_record_every_row_in_every_domain(actor: Actor) -> None:
    for field in FIELDS:
        for code in INDICATORS:
            assert decide(actor, RecordIndicator(code, field), MODEL) is None
        for code in LIST_TYPES:
            assert decide(actor, PutOnList(code, field), MODEL) is None
        assert decide(actor, InField(field), MODEL) is None
    assert decide(actor, Enrol(tuple(FIELDS)), MODEL) is None


def test_an_indicator_the_model_in_force_lacks_is_for_admins_only() -> None:
    refused = decide(recorder("food"), RecordIndicator("honor.galactic", "food"), MODEL)
    assert refused is not None
    assert refused.field == "indicator"
    assert decide(ADMIN_ACTOR, RecordIndicator("honor.galactic", "food"), MODEL) is None


def test_a_recorder_enrols_subjects_only_into_its_own_fields() -> None:
    food = recorder("food", "drugs")
    assert decide(food, Enrol(()), MODEL) is None
    assert decide(food, Enrol(("drugs", "food")), MODEL) is None
    refused = decide(food, Enrol(("food", "taxation")), MODEL)
    assert refused is not None
    assert (refused.field, refused.rule) == ("fields", "a recorder writes only in its own fields")
    assert "'taxation'" in refused.message
    joined = decide(food, Enrol(("taxation",), name="field"), MODEL)
    assert joined is not None
    assert joined.field == "field"


def test_acting_in_a_field_needs_the_field() -> None:
    assert decide(recorder("food"), InField("food"), MODEL) is None
    refused = decide(recorder("food"), InField("drugs", "target's field"), MODEL)
    assert refused is not None
    assert refused.field == "target's field"
    assert refused.error().field == "target's field"
    assert isinstance(refused.error(), Forbidden)


# -- corrections --------------------------------------------------------------------------------


@pytest.mark.parametrize("old", sorted(INDICATORS))
def test_an_admin_corrects_an_indicator_only_into_one_of_the_same_kind(old: str) -> None:
    for new in INDICATORS:
        act = Correct(RecordIndicator(old, "food"), kind=KIND[old], indicator=new)
        refused = decide(ADMIN_ACTOR, act, MODEL)
        if KIND[new] == KIND[old]:
            assert refused is None, new
        else:
            assert refused is not None, new
            assert refused.field == "correction.indicator"
            assert refused.rule.startswith("a correction keeps the indicator's kind")
        assert (decide(SYSTEM_ACTOR, act, MODEL) is None) == (KIND[new] == KIND[old])


@pytest.mark.parametrize(
    "field", sorted({"food", "taxation", "labour_employment", "market_entities"})
)
@pytest.mark.parametrize("old", sorted(INDICATORS))
def test_a_recorder_corrects_only_into_the_same_kind_and_what_it_may_itself_record(
    old: str, field: str
) -> None:
    may = {c for c in INDICATORS if field in expected_fields(INDICATORS[c])}
    for new in INDICATORS:
        act = Correct(RecordIndicator(old, field), kind=KIND[old], indicator=new)
        refused = decide(recorder(field), act, MODEL)
        allowed = KIND[new] == KIND[old] and new in may and old in may
        assert (refused is None) == allowed, (old, new)
        if refused is not None:
            assert refused.field == "correction.indicator"


def test_the_same_kind_rule_holds_even_for_a_change_the_resolver_may_record() -> None:
    # The reproduced failure: a food recorder "corrects" its own penalty into a national honour.
    act = Correct(
        RecordIndicator("penalty.general", "food"), kind="deduction", indicator="honor.national"
    )
    refused = decide(recorder("food"), act, MODEL)  # fmt: skip
    assert refused is not None
    assert (refused.field, refused.rule) == (
        "correction.indicator",
        "a correction keeps the indicator's kind (deduction into deduction, bonus into bonus)",
    )


@pytest.mark.parametrize("code", sorted(INDICATORS))
def test_voiding_or_redating_a_fact_stays_within_the_resolver_s_authority_over_it(
    code: str,
) -> None:
    for field in FIELDS:
        may = field in expected_fields(INDICATORS[code])
        void = decide(recorder(field), Correct(RecordIndicator(code, field), void=True), MODEL)
        redate = decide(
            recorder(field), Correct(RecordIndicator(code, field), decided_on=True), MODEL
        )
        assert (void is None, redate is None) == (may, may), field
        if not may:
            assert void is not None
            assert void.field == "correction.void"
            assert redate is not None
            assert redate.field == "correction.decided_on"


@pytest.mark.parametrize("code", sorted(LIST_TYPES))
def test_voiding_a_listing_stays_within_the_resolver_s_authority_over_it(code: str) -> None:
    allowed = {
        f
        for f in FIELDS
        if decide(recorder(f), Correct(PutOnList(code, f), void=True), MODEL) is None
    }
    assert allowed == expected_fields(LIST_TYPES[code])
    for actor in UNRESTRICTED:
        assert decide(actor, Correct(PutOnList(code, "food"), void=True), MODEL) is None


def test_a_correction_of_a_target_in_another_field_names_the_target_s_field() -> None:
    act = Correct(RecordIndicator("penalty.minor", "drugs"), kind="deduction", void=True)
    refused = decide(recorder("food"), act, MODEL)
    assert refused is not None
    assert refused.field == "target's field"


# -- versioned with the model -------------------------------------------------------------------


def _model_2025() -> EvaluationModel:
    """A later version in which only the taxation field may award commitments kept."""
    raw = copy.deepcopy(raw_model())
    raw["version"] = "PCCE-2025"
    raw["effective_from"] = date(2025, 1, 1)
    raw["authority"]["indicators"]["commitment.kept"] = ["taxation"]
    return EvaluationModel.from_toml(raw)


def test_authority_follows_the_model_version_in_force_at_the_fact_s_date() -> None:
    later = _model_2025()
    assert decide(recorder("food"), RecordIndicator("commitment.kept", "food"), MODEL) is None
    refused = decide(recorder("food"), RecordIndicator("commitment.kept", "food"), later)
    assert refused is not None
    assert "PCCE-2025" in refused.rule
    clock = StepClock()
    app = CreditLedger(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=clock,
        models=ModelRegistry([*default_models().models, later]),
    )
    code = uscc(7)
    app.handle(RegisterSubject(uscc=code, name="n", kind="enterprise", actor=SYSTEM_ACTOR))
    clock.on(date(2025, 3, 1))
    kept: dict[str, Any] = {
        "indicator": "commitment.kept",
        "domain": "food",
        "actor": recorder("food"),
    }
    assert app.handle(
        RecordFact(uscc=code, decided_on=date(2024, 12, 31), document_no="c1", **kept)
    ).created
    position = app.max_position()
    with pytest.raises(Forbidden) as refused_2025:
        app.handle(RecordFact(uscc=code, decided_on=date(2025, 1, 1), document_no="c2", **kept))
    assert refused_2025.value.field == "indicator"
    assert app.max_position() == position
    app.close()


# -- the demo and the data generator ------------------------------------------------------------


def test_every_record_the_demo_makes_is_one_its_department_may_make() -> None:
    """The demo writes as the ledger's tooling, which may do anything; each record must still be
    one a recorder of its domain could have made (the courts' list excepted: admins import it)."""
    summary = DemoSummary()
    checked = {"record_fact": 0, "list_subject": 0, "resolve_objection": 0}
    for n in range(400):
        indicators: dict[Any, tuple[str, str]] = {}
        objections: dict[Any, Any] = {}
        for action in subject_actions(n, 7, date(2025, 6, 30), summary):
            kw = action.kwargs
            refused: Refusal | None = None
            if action.command == "record_fact":
                indicators[kw.get("fact_id")] = (kw["indicator"], kw["domain"])
                recorded = RecordIndicator(kw["indicator"], kw["domain"])
                refused = decide(recorder(kw["domain"]), recorded, MODEL)
                checked["record_fact"] += 1
            elif action.command == "list_subject":
                entry = LIST_TYPES[kw["list_type"]]
                actor = ADMIN_ACTOR if entry == ADMIN else recorder(kw["domain"])
                refused = decide(actor, PutOnList(kw["list_type"], kw["domain"]), MODEL)
                checked["list_subject"] += 1
            elif action.command == "file_objection":
                objections[kw["objection_id"]] = kw["target_id"]
            elif action.command == "resolve_objection" and kw.get("indicator"):
                old, domain = indicators[objections[kw["objection_id"]]]
                act = Correct(RecordIndicator(old, domain), KIND[old], indicator=kw["indicator"])
                refused = decide(recorder(domain), act, MODEL)
                checked["resolve_objection"] += 1
            assert refused is None, (action.command, kw, refused)
    assert all(checked.values()), checked
