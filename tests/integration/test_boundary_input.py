"""Input at the boundary on both real stores: hostile text, natural keys, dates, repeat filings.

Each refusal must write nothing (the log position does not move); each repeat must return the
original record. The command line and the import file reach the same rule through the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from stdnum.cn import uscc as stdnum_uscc

from credit_ledger.bulk import import_file
from ledger.domain.commands import (
    DecideRepair,
    DelistSubject,
    EndFact,
    FileObjection,
    LeaveField,
    ListSubject,
    RecordFact,
    RecordIndustryEvaluation,
    RecordInspectionResult,
    RegisterSubject,
    RequestRepair,
    ResolveObjection,
    RevokeFact,
)
from ledger.domain.errors import InvalidInput
from ledger.domain.subject import Subject
from ledger.domain.values import SYSTEM_ACTOR, subject_id_for
from ledger.service.application import CreditLedger
from tests.integration.test_cli import run
from tests.support import ADMIN, PLATFORM, StepClock, uscc

CODE = uscc(31)
DOC = "舞市监罚〔2023〕7号"


def code_of(start: str) -> str:
    stem = start + "MA3X5Y6T0"
    return stem + stdnum_uscc.calc_check_digit(stem)


def registered(ledger: CreditLedger, clock: StepClock, code: str = CODE) -> None:
    clock.on(date(2023, 1, 2))
    ledger.handle(
        RegisterSubject(
            uscc=code,
            name="舞钢市某某食品有限公司",
            kind="enterprise",
            fields=["food"],
            actor=ADMIN,
        )
    )


def penalty(ledger: CreditLedger, document_no: str = DOC, **extra: Any) -> Any:
    return ledger.handle(
        RecordFact(
            uscc=CODE,
            indicator="penalty.general",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no=document_no,
            actor=ADMIN,
            **extra,
        )
    )


def refused(ledger: CreditLedger, action: Callable[[], object], field: str) -> InvalidInput:
    """Run an action that must be refused naming `field`, and check nothing was written."""
    before = ledger.max_position()
    with pytest.raises(InvalidInput) as refusal:
        action()
    assert refusal.value.field == field, refusal.value.message
    assert ledger.max_position() == before
    return refusal.value


# -- the issue's reproductions -----------------------------------------------------------------


def test_a_name_with_nul_is_refused_naming_the_field_and_the_code_point(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    clock.on(date(2023, 1, 2))
    refusal = refused(
        stored_ledger,
        lambda: stored_ledger.handle(
            RegisterSubject(uscc=CODE, name="舞钢\x00公司", kind="enterprise", actor=ADMIN)
        ),
        "name",
    )
    assert "U+0000" in refusal.message
    assert stored_ledger.max_position() == 0


@pytest.mark.parametrize("invisible", ["\u200b", "\u2060", "\u00ad", "\ufeff"])
def test_a_document_number_with_an_invisible_character_is_refused_not_a_second_document(
    stored_ledger: CreditLedger, clock: StepClock, invisible: str
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    first = penalty(stored_ledger)
    refusal = refused(stored_ledger, lambda: penalty(stored_ledger, DOC + invisible), "document_no")
    assert f"U+{ord(invisible):04X}" in refusal.message
    refused(
        stored_ledger, lambda: penalty(stored_ledger, DOC[:3] + invisible + DOC[3:]), "document_no"
    )
    evaluation = stored_ledger.evaluate(CODE, as_of=date(2023, 6, 1))
    assert [c.fact_id for c in evaluation.contributions] == [first.id]
    assert evaluation.score == 75


@pytest.mark.parametrize(
    "name",
    [
        "\u200b\u200b",
        "\u200b\u200c\u200d\u2060",
        "\u202e司公品食\u202c",
        "\u202d舞钢",
        "\x1b[31m舞钢",
    ],
)
def test_names_of_invisible_characters_bidi_overrides_and_controls_are_refused(
    stored_ledger: CreditLedger, clock: StepClock, name: str
) -> None:
    clock.on(date(2023, 1, 2))
    refused(
        stored_ledger,
        lambda: stored_ledger.handle(
            RegisterSubject(uscc=CODE, name=name, kind="enterprise", actor=ADMIN)
        ),
        "name",
    )


def test_full_width_and_half_width_document_numbers_are_one_document(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    first = penalty(stored_ledger, "舞市监罚〔２０２３〕７号")
    position = stored_ledger.max_position()
    again = penalty(stored_ledger, "舞市监罚〔2023〕7号")
    assert (again.id, again.created) == (first.id, False)
    assert stored_ledger.max_position() == position
    # Stored as given (NFC), compared by NFKC.
    assert stored_ledger.subject(CODE).facts[first.id].document_no == "舞市监罚〔２０２３〕７号"
    assert stored_ledger.evaluate(CODE, as_of=date(2023, 6, 1)).score == 75


def test_valid_credit_codes_of_letter_authorities_are_registered(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    clock.on(date(2023, 1, 2))
    for start in ("N2410481", "Y1410481", "A1110000", "N1410481"):
        code = code_of(start)
        written = stored_ledger.handle(
            RegisterSubject(uscc=code, name=f"{start}组织", kind="social_organization", actor=ADMIN)
        )
        assert written.created
        assert stored_ledger.subject(code).uscc == code


@pytest.mark.parametrize(
    ("field", "day"),
    [("decided_on", date(1, 1, 1)), ("decided_on", date(1949, 9, 30))],
)
def test_a_decision_before_1949_10_01_is_refused(
    stored_ledger: CreditLedger, clock: StepClock, field: str, day: date
) -> None:
    registered(stored_ledger, clock)
    refused(
        stored_ledger,
        lambda: stored_ledger.handle(
            RecordFact(
                uscc=CODE,
                indicator="penalty.general",
                decided_on=day,
                domain="food",
                document_no="d",
                actor=ADMIN,
            )
        ),
        field,
    )


def test_the_same_objection_filed_again_after_its_resolution_returns_the_original(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    fact = penalty(stored_ledger)
    clock.on(date(2023, 3, 6))
    filed = stored_ledger.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2023, 3, 6),
            grounds="处罚决定已撤销",
            actor=PLATFORM,
        )
    )
    clock.on(date(2023, 3, 10))
    stored_ledger.handle(
        ResolveObjection(
            objection_id=filed.id, outcome="rejected", resolved_on=date(2023, 3, 10), actor=ADMIN
        )
    )
    position = stored_ledger.max_position()
    clock.on(date(2023, 3, 20))
    again = stored_ledger.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2023, 3, 6),
            grounds="处罚决定已撤销",
            actor=PLATFORM,
        )
    )
    assert (again.id, again.created, again.status) == (filed.id, False, "resolved")
    assert stored_ledger.max_position() == position
    assert len(stored_ledger.subject(CODE).objections) == 1
    # Grounds compare by NFKC: a full-width spelling is the same filing.
    wide = stored_ledger.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2023, 3, 6),
            grounds=" 处罚决定已撤销 ",
            actor=PLATFORM,
        )
    )
    assert (wide.id, wide.created) == (filed.id, False)
    # Another filing date is a new objection, allowed once the first is resolved.
    other = stored_ledger.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2023, 3, 20),
            grounds="处罚决定已撤销",
            actor=PLATFORM,
        )
    )
    assert other.created
    assert other.id != filed.id


def test_objection_grounds_in_full_width_are_the_same_pending_objection(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    fact = penalty(stored_ledger)
    filed = stored_ledger.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2023, 3, 2),
            grounds="文号ＡＢ１有误",
            actor=PLATFORM,
        )
    )
    again = stored_ledger.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2023, 3, 2),
            grounds="文号AB1有误",
            actor=PLATFORM,
        )
    )
    assert (again.id, again.created, again.status) == (filed.id, False, "pending")


# -- every text argument of every command -------------------------------------------------------


def test_every_text_argument_of_every_command_passes_the_text_rule(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    fact = penalty(stored_ledger).id
    listing = stored_ledger.handle(
        ListSubject(
            uscc=CODE,
            list_type="serious_illegal_dishonest",
            listed_on=date(2023, 3, 2),
            domain="food",
            document_no="L1",
            authority="舞钢市市场监督管理局",
            actor=ADMIN,
        )
    ).id
    clock.on(date(2024, 6, 3))
    repairable = stored_ledger.handle(
        RecordFact(
            uscc=CODE,
            indicator="penalty.minor",
            decided_on=date(2024, 6, 3),
            domain="food",
            document_no="M1",
            actor=ADMIN,
        )
    ).id
    objection = stored_ledger.handle(
        FileObjection(
            uscc=CODE, target_id=fact, filed_on=date(2024, 6, 3), grounds="g", actor=PLATFORM
        )
    ).id
    repair = stored_ledger.handle(
        RequestRepair(
            uscc=CODE,
            target_id=repairable,
            requested_on=date(2024, 6, 3),
            commitment="c",
            actor=PLATFORM,
        )
    ).id
    bad = "x\u202ey"
    day = date(2024, 6, 3)
    commands: list[tuple[str, Callable[[], object]]] = [
        ("name", lambda: stored_ledger.handle(RegisterSubject(
            uscc=uscc(32), name=bad, kind="enterprise", actor=ADMIN))),
        ("source_document", lambda: stored_ledger.handle(RegisterSubject(
            uscc=uscc(32), name="n", kind="enterprise", actor=ADMIN, source_document=bad))),
        ("document_no", lambda: penalty(stored_ledger, bad)),
        ("description", lambda: penalty(stored_ledger, "D2", description=bad)),
        ("reason", lambda: stored_ledger.handle(EndFact(
            uscc=CODE, fact_id=fact, ended_on=day, reason=bad, actor=ADMIN))),
        ("source_document", lambda: stored_ledger.handle(EndFact(
            uscc=CODE, fact_id=fact, ended_on=day, reason="r", actor=ADMIN,
            source_document=bad))),
        ("reason", lambda: stored_ledger.handle(RevokeFact(
            uscc=CODE, fact_id=fact, reason=bad, actor=ADMIN))),
        ("authority", lambda: stored_ledger.handle(ListSubject(
            uscc=CODE, list_type="serious_illegal_dishonest", listed_on=day, domain="food",
            document_no="L2", authority=bad, actor=ADMIN))),
        ("document_no", lambda: stored_ledger.handle(ListSubject(
            uscc=CODE, list_type="serious_illegal_dishonest", listed_on=day, domain="food",
            document_no=bad, authority="a", actor=ADMIN))),
        ("source_document", lambda: stored_ledger.handle(DelistSubject(
            uscc=CODE, listing_id=listing, delisted_on=day, reason="expired", actor=ADMIN,
            source_document=bad))),
        ("grounds", lambda: stored_ledger.handle(FileObjection(
            uscc=CODE, target_id=listing, filed_on=day, grounds=bad, actor=PLATFORM))),
        ("note", lambda: stored_ledger.handle(ResolveObjection(
            objection_id=objection, outcome="rejected", resolved_on=day, actor=ADMIN, note=bad))),
        ("commitment", lambda: stored_ledger.handle(RequestRepair(
            uscc=CODE, target_id=repairable, requested_on=day, commitment=bad, actor=PLATFORM))),
        ("reason", lambda: stored_ledger.handle(DecideRepair(
            repair_id=repair, approved=True, decided_on=day, reason=bad, actor=ADMIN))),
        ("model", lambda: stored_ledger.handle(RecordIndustryEvaluation(
            uscc=CODE, domain="food", evaluated_on=day, model=bad, score="90", actor=ADMIN))),
        ("document_no", lambda: stored_ledger.handle(RecordIndustryEvaluation(
            uscc=CODE, domain="food", evaluated_on=day, model="m", score="90", document_no=bad,
            actor=ADMIN))),
        ("inspectors", lambda: stored_ledger.register_inspectors(
            "food", inspectors=["张三", bad], actor=ADMIN)),
        ("seed", lambda: stored_ledger.make_draw(
            field="food", as_of=day, seed=bad, actor=ADMIN)),
        ("name", lambda: stored_ledger.issue_token(role="reader", name=bad, actor=SYSTEM_ACTOR)),
    ]  # fmt: skip
    for field, command in commands:
        refusal = refused(stored_ledger, command, field)
        assert "U+202E" in refusal.message, (field, refusal.message)


def test_an_inspection_finding_stores_its_document_number_and_note_cleaned(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    stored_ledger.register_inspectors("food", inspectors=["张三", "李四"], actor=ADMIN)
    drawn, _ = stored_ledger.make_draw(field="food", as_of=date(2023, 3, 2), seed="s", actor=ADMIN)
    assert [s["uscc"] for s in drawn.selected] == [CODE]

    def finding(document_no: str, note: str) -> Any:
        return stored_ledger.handle(
            RecordInspectionResult(
                draw_id=drawn.id,
                uscc=CODE,
                outcome="finding",
                inspected_on=date(2023, 3, 2),
                indicator="penalty.minor",
                document_no=document_no,
                note=note,
                actor=ADMIN,
            )
        )

    refused(stored_ledger, lambda: finding("I1", "bad\x00note"), "note")
    refused(stored_ledger, lambda: finding("I1\u200b", "ok"), "document_no")
    written = finding("  I1 ", " 现场检查 ")
    fact = stored_ledger.subject(CODE).facts[written.id]
    assert (fact.document_no, fact.description) == ("I1", "现场检查")


def test_inspector_names_compare_by_nfkc(stored_ledger: CreditLedger, clock: StepClock) -> None:
    first = stored_ledger.register_inspectors("food", inspectors=["ＡＢ", "李四"], actor=ADMIN)
    assert first.created
    again = stored_ledger.register_inspectors("food", inspectors=["AB", "李四", "AB"], actor=ADMIN)
    assert not again.created
    refused(
        stored_ledger,
        lambda: stored_ledger.register_inspectors("food", inspectors=["AB", "ＡＢ"], actor=ADMIN),
        "inspectors",
    )


# -- dates --------------------------------------------------------------------------------------


def test_dates_of_things_that_happened_are_not_after_today(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    clock.on(date(2023, 3, 2))
    fact = penalty(stored_ledger).id
    listing = stored_ledger.handle(
        ListSubject(
            uscc=CODE,
            list_type="serious_illegal_dishonest",
            listed_on=date(2023, 3, 2),
            domain="food",
            document_no="L1",
            authority="a",
            actor=ADMIN,
        )
    ).id
    later = date(2023, 3, 3)
    refused(
        stored_ledger,
        lambda: stored_ledger.handle(
            EndFact(uscc=CODE, fact_id=fact, ended_on=later, reason="r", actor=ADMIN)
        ),
        "ended_on",
    )
    refused(
        stored_ledger,
        lambda: stored_ledger.handle(
            DelistSubject(
                uscc=CODE, listing_id=listing, delisted_on=later, reason="expired", actor=ADMIN
            )
        ),
        "delisted_on",
    )
    refused(
        stored_ledger,
        lambda: stored_ledger.handle(
            LeaveField(uscc=CODE, field="food", left_on=later, actor=ADMIN)
        ),
        "left_on",
    )
    # effective_until may lie in the future, up to the last representable day.
    far = penalty(stored_ledger, "F1", effective_until=date(9999, 12, 31))
    assert far.created
    assert stored_ledger.evaluate(CODE, as_of=date(9999, 12, 31)).score is not None


def test_known_at_after_now_is_refused_naming_known_at(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    registered(stored_ledger, clock)
    future = clock.now + timedelta(hours=1)
    with pytest.raises(InvalidInput) as refusal:
        stored_ledger.evaluate(CODE, known_at=future)
    assert refusal.value.field == "known_at"
    with pytest.raises(InvalidInput) as refusal:
        stored_ledger.supervision(CODE, field="food", known_at=future)
    assert refusal.value.field == "known_at"


# -- streams stored before the text rule ------------------------------------------------------


def test_streams_stored_before_the_rule_still_fold_the_same(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    # What an older version stored (on both stores: events are JSON, so a NUL is escaped): a NUL
    # in a name, and two facts whose document numbers are one natural key.
    at = clock.on(date(2023, 3, 2))
    subject = Subject._create(
        Subject.Registered,
        uscc=CODE,
        name="旧\x00名",
        kind="enterprise",
        fields=["food"],
        established_on=None,
        timestamp=at,
        actor_id=ADMIN.actor_id,
        department=ADMIN.department,
        source_document=None,
    )
    ids = []
    for n, document_no in enumerate(["罚〔２０２３〕１号", "罚〔2023〕1号"]):
        fact_id = UUID(int=n + 1)
        subject.trigger_event(
            Subject.FactRecorded,
            fact_id=fact_id,
            indicator="penalty.general",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no=document_no,
            description=None,
            effective_until=None,
            timestamp=at,
            actor_id=ADMIN.actor_id,
            department=ADMIN.department,
            source_document=document_no,
        )
        ids.append(fact_id)
    stored_ledger.save(subject)
    state = stored_ledger.subject(CODE)
    assert sorted(state.facts) == ids
    assert state.name == "旧\x00名"
    # Both old facts still count, as they did; the key belongs to the first.
    evaluation = stored_ledger.evaluate(CODE, as_of=date(2023, 6, 1))
    assert evaluation.score == 70
    clock.on(date(2023, 3, 3))
    again = stored_ledger.handle(
        RecordFact(
            uscc=CODE,
            indicator="penalty.general",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no="罚〔2023〕1号",
            actor=ADMIN,
        )
    )
    assert (again.id, again.created) == (ids[0], False)


# -- the import file and the command line reach the same rule -----------------------------------


def test_an_import_line_with_hostile_text_or_a_number_as_date_is_rejected_and_writes_nothing(
    stored_ledger: CreditLedger, tmp_path: Path
) -> None:
    register = {
        "at": "2024-01-02T10:00:00+08:00",
        "command": "register_subject",
        "args": {"uscc": CODE, "name": "舞钢\x00公司", "kind": "enterprise", "fields": ["food"]},
    }
    numbered = {
        "at": "2024-01-02T10:00:00+08:00",
        "command": "register_subject",
        "args": {
            "uscc": CODE,
            "name": "舞钢公司",
            "kind": "enterprise",
            "established_on": 20230101,
        },
    }
    invisible = {**register, "args": {**register["args"], "name": "\u200b\u200b"}}
    path = tmp_path / "hostile.ndjson"
    path.write_bytes(
        b"".join(orjson.dumps(line) + b"\n" for line in (register, numbered, invisible))
    )
    report = import_file(stored_ledger, path, rejects=tmp_path / "rejects.ndjson")
    assert (report.applied, report.rejected) == (0, 3)
    reasons = [
        orjson.loads(r)["reason"] for r in (tmp_path / "rejects.ndjson").read_bytes().splitlines()
    ]
    assert reasons[0].startswith("name:")
    assert "U+0000" in reasons[0]
    assert "established_on" in reasons[1]
    assert "YYYY-MM-DD" in reasons[1]
    assert reasons[2].startswith("name:")
    assert "U+200B" in reasons[2]
    assert not list(stored_ledger.events.get(subject_id_for(CODE)))


def test_the_command_line_refuses_known_at_after_now_and_a_date_not_written_yyyy_mm_dd(
    store_url: str,
) -> None:
    from credit_ledger.bootstrap import open_ledger

    ledger = open_ledger(store_url)
    ledger.handle(RegisterSubject(uscc=CODE, name="舞钢公司", kind="enterprise", actor=ADMIN))
    ledger.close()
    future = (datetime.now().astimezone() + timedelta(days=2)).isoformat(timespec="seconds")
    shown = run(store_url, "evaluate", CODE, "--known-at", future)
    assert shown.returncode != 0
    assert "known_at" in shown.stderr or "known-at" in shown.stderr
    assert "after now" in shown.stderr
    shown = run(store_url, "evaluate", CODE, "--as-of", "20230301")
    assert shown.returncode != 0
    assert "YYYY-MM-DD" in shown.stderr


# -- draw seeds are natural keys ----------------------------------------------------------------


def test_a_seed_in_full_width_draws_the_same_sample_and_old_draws_still_verify(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    from ledger.domain.inspections import InspectionDraw
    from ledger.domain.rules.supervision import _rank

    clock.on(date(2023, 1, 2))
    codes = [uscc(40 + n) for n in range(12)]
    for code in codes:
        stored_ledger.handle(
            RegisterSubject(
                uscc=code, name=f"企业{code[-4:]}", kind="enterprise", fields=["food"], actor=ADMIN
            )
        )
    stored_ledger.register_inspectors("food", inspectors=["张三", "李四", "王五"], actor=ADMIN)
    day = date(2023, 1, 2)
    wide, _ = stored_ledger.make_draw(field="food", as_of=day, seed="抽查〔２０２３〕", actor=ADMIN)
    half, _ = stored_ledger.make_draw(field="food", as_of=day, seed="抽查〔2023〕", actor=ADMIN)
    assert wide.seed == "抽查〔２０２３〕"  # kept as given
    assert wide.seed_key == half.seed_key == "抽查〔2023〕"
    assert wide.selected == half.selected
    assert stored_ledger.verify_draw(wide.id) == []
    # Hashing the seeds as given would have ordered the population differently.
    assert sorted(codes, key=lambda c: _rank(wide.seed, c)) != sorted(
        codes, key=lambda c: _rank(half.seed, c)
    )

    # A draw recorded before seeds were keys hashed the seed as given; it still verifies.
    position = stored_ledger.max_position()
    pool = stored_ledger.inspectors("food")
    old = stored_ledger._draw_for("food", day, wide.seed, position, pool)
    legacy = InspectionDraw._create(
        InspectionDraw.Recorded,
        field="food",
        as_of=day,
        seed=wide.seed,
        position=position,
        policy=stored_ledger.policies.in_force(day).version,
        population_digest=old.population_digest,
        strata={k: list(v) for k, v in old.strata.items()},
        selected=[
            {"uscc": s.uscc, "grade": s.grade, "tier": s.tier, "inspectors": list(s.inspectors)}
            for s in old.selected
        ],
        inspectors=pool,
        actor_id=ADMIN.actor_id,
        department=ADMIN.department,
    )
    stored_ledger.save(legacy)
    reread = stored_ledger.get_draw(legacy.id)
    assert reread.seed_key == wide.seed
    assert stored_ledger.verify_draw(legacy.id) == []


def test_the_command_line_refuses_hostile_text_and_shows_brackets_as_text(
    store_url: str,
) -> None:
    shown = run(store_url, "token", "create", "--role", "reader", "--name", "a\u202eb")
    assert shown.returncode == 2
    assert "name" in shown.stderr
    assert "U+202E" in shown.stderr
    # Text that looks like console markup is shown as written, and the secret is printed.
    made = run(store_url, "token", "create", "--role", "reader", "--name", "[/]科[bold]")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1].startswith("clt_")
    listed = run(store_url, "token", "list")
    assert listed.returncode == 0, listed.stderr
    assert "[/]科[bold]" in listed.stdout
