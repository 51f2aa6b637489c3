"""Model versions as events, on both stores: a version published after 31 October restates the
year with itself as the cause, leaves the published result byte-identical, is unknown to a
read as known before it, and the dry run before it counts exactly the differences it makes."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import date

import orjson
import pytest

from ledger.domain.commands import PublishVersion
from ledger.domain.errors import Conflict, Forbidden, InvalidVersion
from ledger.domain.rulebook import RulebookStream, shipped_files
from ledger.domain.values import subject_id_for
from ledger.service.application import CreditLedger
from ledger.store.stores import stream_positions
from projections.annual import (
    AnnualResults,
    all_results,
    changes_since_publication,
    published_at,
    subject_result,
)
from projections.dry_run import CURRENT, dry_run
from projections.grades import outcome
from projections.runner import Projector
from tests.scenarios import fact, register
from tests.support import ADMIN, PLATFORM, StepClock

GENESIS = shipped_files()["model", "PCCE-2021"]


def model_2023(points: str = "15") -> str:
    """PCCE-2021 with a heavier general penalty, as version PCCE-2023 in force from 2023."""
    text = GENESIS.replace('version = "PCCE-2021"', 'version = "PCCE-2023"')
    text = text.replace("effective_from = 2021-01-01", "effective_from = 2023-01-01")
    general = '[indicators."penalty.general"]\nkind = "deduction"\npoints = "5"'
    assert general in text
    return text.replace(general, general.replace('points = "5"', f'points = "{points}"'))


def publish(ledger: CreditLedger, source: str, kind: str = "model") -> int | None:
    return ledger.handle(
        PublishVersion(kind=kind, source=source, actor=ADMIN, reason="市信用办 2023 年修订")
    ).position


def _bytes(value: object) -> bytes:
    return orjson.dumps(asdict(value), option=orjson.OPT_SORT_KEYS, default=str)  # type: ignore[call-overload]


@pytest.fixture
def year_2023(stored_ledger: CreditLedger, clock: StepClock) -> dict[str, str]:
    """Three subjects graded 良 on 31 October 2023 under PCCE-2021, the year materialised."""
    ledger = stored_ledger
    codes = {
        name: register(ledger, clock, n) for n, name in enumerate(("general", "minor", "clean"))
    }
    fact(ledger, clock, codes["general"], "penalty.general", date(2023, 3, 1))  # 75 良
    fact(ledger, clock, codes["minor"], "penalty.minor", date(2023, 9, 1))  # 79 良
    clock.on(date(2023, 11, 20))
    AnnualResults(ledger).build(2023)
    return codes


def test_a_later_version_restates_the_year_and_leaves_the_published_result(
    stored_ledger: CreditLedger, clock: StepClock, year_2023: dict[str, str]
) -> None:
    ledger, code = stored_ledger, year_2023["general"]
    events = ledger.history(code)
    published_before = subject_result(ledger, events, 2023, ledger.clock()).published
    as_published = ledger.evaluate(code, as_of=date(2023, 10, 31), known_at=published_at(2023))
    assert as_published.model == "PCCE-2021"
    assert as_published.grade == "良"

    clock.on(date(2023, 12, 1))
    before_publication = ledger.clock()
    position = publish(ledger, model_2023())
    assert position is not None
    assert position == ledger.max_position()

    result = subject_result(ledger, ledger.history(code), 2023, ledger.clock())
    assert result.restated is not None
    assert result.published is not None
    assert (result.restated.model, str(result.restated.score), result.restated.grade) == (
        "PCCE-2023",
        "65",
        "中",
    )
    # The published result is reproduced byte for byte, with the version known at its cut-off.
    assert _bytes(result.published) == _bytes(published_before)
    again = ledger.evaluate(code, as_of=date(2023, 10, 31), known_at=published_at(2023))
    assert _bytes(again) == _bytes(as_published)

    # The restatement names the new version among its causes.
    changes = changes_since_publication(ledger, ledger.history(code), 2023)
    assert [(c.topic, c.version, c.position) for c in changes] == [
        (RulebookStream.ModelPublished.TOPIC, "PCCE-2023", position)
    ]
    assert changes[0].before is not None
    assert changes[0].before.grade == "良"
    assert changes[0].after is not None
    assert changes[0].after.grade == "中"

    # Known at a time before the publication, the old version answers; after it, the new one.
    old = ledger.evaluate(code, as_of=date(2023, 11, 15), known_at=before_publication)
    assert (old.model, str(old.score)) == ("PCCE-2021", "75")
    new = ledger.evaluate(code, as_of=date(2023, 11, 15))
    assert (new.model, str(new.score)) == ("PCCE-2023", "65")
    # Before its effective date the new version is not in force, known or not.
    assert ledger.evaluate(code, as_of=date(2022, 12, 31)).model == "PCCE-2021"

    # The materialised year's counts restate every subject, the published side unchanged.
    summary = AnnualResults(ledger).summary(2023)
    assert summary.published["良"] == 3
    assert summary.restated["中"] == 1


def test_the_same_file_again_is_a_no_op_and_a_changed_one_under_its_name_is_refused(
    stored_ledger: CreditLedger, clock: StepClock, year_2023: dict[str, str]
) -> None:
    ledger = stored_ledger
    publish(ledger, model_2023())
    head = ledger.max_position()
    again = ledger.handle(
        PublishVersion(kind="model", source=model_2023(), actor=ADMIN, reason="x")
    )
    assert not again.created
    assert ledger.max_position() == head
    with pytest.raises(Conflict, match="already known with other contents"):
        publish(ledger, model_2023(points="20"))
    # A dry run or a check of a name already published is refused the same way.
    with pytest.raises(Conflict, match="already published with this file"):
        ledger.candidate("model", model_2023())
    with pytest.raises(Conflict, match="already known with other contents"):
        ledger.candidate("model", model_2023(points="20"))
    with pytest.raises(Forbidden):
        ledger.handle(
            PublishVersion(kind="model", source=model_2023("7"), actor=PLATFORM, reason="x")
        )
    assert ledger.max_position() == head


@pytest.mark.parametrize(
    ("change", "line", "rule"),
    [
        (('above = "70"', 'above = "90"'), 22, "monotone grade thresholds"),
        (('kind = "bonus"', 'kind = "reward"'), 100, "kinds"),
        (('"wage.arrears" = ["labour_employment"]', '"wage.arrears" = ["labour"]'), 138, "field"),
        (('"tax.a_level" = ["taxation"]\n', ""), 133, "authority table complete"),
        (("period = { years = 3 }", "period = { weeks = 3 }"), 60, "periods"),
        (('points = "10"', 'points = "ten"'), 73, "points"),
    ],
)
def test_an_invalid_model_file_is_refused_naming_line_and_rule_and_writes_nothing(
    stored_ledger: CreditLedger,
    clock: StepClock,
    change: tuple[str, str],
    line: int,
    rule: str,
) -> None:
    ledger = stored_ledger
    register(ledger, clock)
    head = ledger.max_position()
    bad = model_2023().replace(*change, 1)
    with pytest.raises(InvalidVersion) as refused:
        publish(ledger, bad)
    assert refused.value.line == line
    assert rule in (refused.value.rule or "")
    assert f"line {line}" in str(refused.value)
    assert ledger.max_position() == head
    assert ledger.rulebook(fresh=True).published() == []


def test_the_dry_run_counts_equal_the_restatements_differences_after_publication(
    stored_ledger: CreditLedger, clock: StepClock, year_2023: dict[str, str]
) -> None:
    ledger = stored_ledger
    fact(ledger, clock, year_2023["clean"], "penalty.general", date(2023, 11, 25))
    clock.on(date(2023, 12, 1))
    head = ledger.max_position()
    run = dry_run(ledger, ledger.candidate("model", model_2023("35")))
    assert ledger.max_position() == head  # a dry run writes nothing
    assert run.scopes == (CURRENT, "2023")

    def restated() -> dict[str, str | None]:
        return {
            r.uscc: r.restated.grade if r.restated else None
            for r in all_results(ledger, 2023, ledger.clock())
        }

    grades_before = restated()
    publish(ledger, model_2023("35"))
    grades_after = restated()
    differences = Counter(
        (grades_before[u], grades_after[u])
        for u in grades_before
        if grades_before[u] != grades_after[u]
    )
    assert run.counts["2023"] == dict(differences) == {("良", "差"): 1}
    assert run.counts[CURRENT] == {("良", "差"): 2}  # the late fact of 25 November counts today
    assert {(s.scope, s.uscc) for s in run.shifts} == {
        (CURRENT, year_2023["general"]),
        (CURRENT, year_2023["clean"]),
        ("2023", year_2023["general"]),
    }
    current = {c: ledger.evaluate(c).grade for c in year_2023.values()}
    assert current[year_2023["general"]] == current[year_2023["clean"]] == "差"


def test_read_models_given_the_rulebook_grade_each_event_with_the_versions_known_then(
    stored_ledger: CreditLedger, clock: StepClock, year_2023: dict[str, str]
) -> None:
    ledger, code = stored_ledger, year_2023["general"]
    clock.on(date(2023, 12, 1))
    publish(ledger, model_2023())
    sid = subject_id_for(code)
    done = outcome(
        sid, ledger.history(code), stream_positions(ledger, sid), ledger.today(), ledger.rulebook()
    )
    # The fact recorded in March 2023 moved the grade under the model known then.
    (change,) = [c for c in done.changes if c.topic == "credit.fact_recorded.v1"]
    assert (change.evaluation.model, str(change.evaluation.score)) == ("PCCE-2021", "75")
    assert (done.today.model, str(done.today.score)) == ("PCCE-2023", "65")


def test_the_rebuilt_read_models_grade_with_the_published_versions(
    stored_ledger: CreditLedger, clock: StepClock, year_2023: dict[str, str]
) -> None:
    ledger, code = stored_ledger, year_2023["general"]
    clock.on(date(2023, 12, 1))
    publish(ledger, model_2023())
    projector = Projector(ledger, today=ledger.today)
    projector.rebuild_all()
    (row,) = projector.rows_of_subjects("current_grades", [str(subject_id_for(code))])
    assert (row["model"], row["score"]) == ("PCCE-2023", "65")
    fed = projector.rows_of_subjects("feed", [str(subject_id_for(code))])
    fact_row = next(r for r in fed if r["topic"] == "credit.fact_recorded.v1")
    # The March 2023 fact is in the feed as graded when it was recorded: under PCCE-2021.
    assert fact_row["score"] == "75"


def test_a_published_supervision_policy_sets_tiers_for_dates_from_its_start_once_known(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    ledger = stored_ledger
    code = register(ledger, clock)  # a food subject graded 良 (B)
    clock.on(date(2024, 2, 1))
    before = ledger.clock()
    policy = shipped_files()["supervision", "SUP-2021"]
    later = policy.replace('version = "SUP-2021"', 'version = "SUP-2024"').replace(
        "effective_from = 2021-01-01", "effective_from = 2024-01-01"
    )
    food_b = '[fields.food.B]\ntier = "reduced"\nratio = "0.02"'
    assert food_b in later
    later = later.replace(food_b, food_b.replace('"0.02"', '"0.05"'))
    publish(ledger, later, kind="supervision")
    now = ledger.supervision(code, field="food", as_of=date(2024, 1, 15))
    assert (now.policy, str(now.ratio)) == ("SUP-2024", "0.05")
    then = ledger.supervision(code, field="food", as_of=date(2024, 1, 15), known_at=before)
    assert (then.policy, str(then.ratio)) == ("SUP-2021", "0.02")
    earlier = ledger.supervision(code, field="food", as_of=date(2023, 12, 31))
    assert earlier.policy == "SUP-2021"
    # A policy that leaves a grade of the models without a letter is refused.
    with pytest.raises(InvalidVersion, match="grade '差' has no letter"):
        publish(
            ledger,
            later.replace('"SUP-2024"', '"SUP-2025"').replace('"差" = "D"\n', ""),
            "supervision",
        )
