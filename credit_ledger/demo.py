"""Realistic synthetic history for a city platform, loaded through the ledger's own write path.

The demo replays 2019 to today on a simulated record clock: every action is applied in the order
the platform would have learned it, with the record time it would have had. That is what makes
each year's 31-October evaluation meaningful on demo data, and what lets later corrections,
backdated facts and repairs show up as restatements. Clients of the service can never set record
time; only this loader, replaying history into an empty ledger, runs on a simulated clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from uuid import UUID

from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

from ledger.domain.catalog import catalogue
from ledger.domain.commands import COMMANDS, RecordFact
from ledger.domain.errors import LedgerError
from ledger.domain.values import CST, SYSTEM_ACTOR, Actor, Role, add_months
from ledger.service.application import CreditLedger

START = date(2019, 1, 1)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Wugang's administrative division code (舞钢市, 410481).
REGION = "410481"

KINDS: list[tuple[str, str, float]] = [
    # kind, first two characters of the credit code, weight
    ("enterprise", "91", 0.70),
    ("individual_business", "92", 0.15),
    ("social_organization", "51", 0.06),
    ("public_institution", "12", 0.05),
    ("government_department", "11", 0.04),
]
NAME_WORDS = [
    "钢城",
    "龙泉",
    "石漫滩",
    "灯台架",
    "九头崖",
    "尚店",
    "八台",
    "枣林",
    "杨庄",
    "武功",
    "诚信",
    "鑫源",
    "恒泰",
    "华联",
    "宏达",
    "金鼎",
    "瑞丰",
    "嘉禾",
    "永盛",
    "安康",
]
NAME_TRADES = {
    "food": "食品",
    "drugs": "医药",
    "medical_devices": "医疗器械",
    "market_entities": "商贸",
    "culture_tourism": "文化旅游",
    "health_venues": "洗浴",
    "medical_institutions": "诊所",
    "housing_construction": "建筑工程",
    "property_management": "物业服务",
    "transport": "运输",
    "tobacco_retail": "烟酒店",
    "labour_employment": "劳务",
    "local_finance": "小额贷款",
    "taxation": "财税咨询",
    "public_security": "保安服务",
    "private_education": "培训学校",
    "social_organizations": "协会",
    "emergency_management": "安全技术",
    "agriculture": "农业",
    "surveying_mapping": "测绘",
    "legal_services": "律师事务所",
    "commerce_exhibition": "会展",
    "environment": "环保科技",
    "water_resources": "水利工程",
    "urban_management": "环卫",
    "energy_saving": "节能科技",
    "forestry": "林业",
    "civil_air_defence": "人防工程",
    "designated_medical": "医院",
    "statistics": "调查咨询",
    "express_delivery": "快递",
}
SUFFIX = {
    "enterprise": "有限公司",
    "individual_business": "经营部",
    "social_organization": "",
    "public_institution": "中心",
    "government_department": "所",
}
# indicator, weight, domain chooser: "own" = one of the subject's fields, else a field code.
INDICATORS: list[tuple[str, float, str]] = [
    ("penalty.minor", 0.20, "own"),
    ("penalty.general", 0.16, "own"),
    ("penalty.serious", 0.05, "own"),
    ("contract.default", 0.05, "commerce_exhibition"),
    ("wage.arrears", 0.05, "labour_employment"),
    ("social_insurance.arrears", 0.06, "labour_employment"),
    ("tax.arrears", 0.06, "taxation"),
    ("business.anomaly", 0.07, "market_entities"),
    ("tax.a_level", 0.12, "taxation"),
    ("honor.municipal", 0.08, "own"),
    ("honor.provincial", 0.04, "own"),
    ("honor.national", 0.01, "own"),
    ("commitment.kept", 0.05, "own"),
]
LIST_TYPES = [
    "judgment_defaulter",
    "serious_illegal_dishonest",
    "major_tax_violation",
    "other_joint_punishment",
]


class SimulatedClock:
    """A record clock that the loader moves forward; it never runs past the real present."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, instant: datetime) -> None:
        """Move to `instant` (never backwards, never past the real present)."""
        real_now = datetime.now(UTC)
        self.now = max(self.now, min(instant, real_now))


@dataclass(order=True)
class Action:
    """One thing the platform learned, at its record time: a ledger command and its arguments."""

    at: datetime
    seq: int
    command: str = field(compare=False)
    kwargs: dict[str, Any] = field(compare=False)

    def run(self, app: CreditLedger) -> Any:
        """Apply the command through the ledger's write path."""
        return app.handle(COMMANDS[self.command](**self.kwargs))


@dataclass
class DemoSummary:
    """What the demo wrote, and a few subjects worth looking at."""

    subjects: int = 0
    actions: int = 0
    refused: int = 0
    samples: dict[str, str] = field(default_factory=dict)


def make_uscc(rng: random.Random, prefix: str) -> str:
    """A valid unified social credit code registered in Wugang."""
    body = prefix + REGION + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + stdnum_uscc.calc_check_digit(body + "0")


def _short(field_code: str) -> str:
    """A document-number abbreviation of the department owning a field (市税务局 → 税务)."""
    cat = catalogue()
    name = cat.departments[cat.department_of(field_code)].name_zh
    return name.removeprefix("市").rstrip("局委办")


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _at(day: date, rng: random.Random, lag_days: int = 0) -> datetime:
    """A working-hours instant on `day + lag_days`, China time."""
    moment = time(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=rng.randint(0, 59))
    return datetime.combine(day + timedelta(days=lag_days), moment, tzinfo=CST)


def _random_day(rng: random.Random, start: date, end: date) -> date:
    span = (end - start).days
    return start + timedelta(days=rng.randint(0, max(span, 0)))


def plan(subjects: int, seed: int, today: date) -> tuple[list[Action], DemoSummary]:
    """Every action of the demo history, sorted by record time, deterministic for a seed.

    Each subject draws from its own random stream, so a subject's code, kind and record count
    do not shift when the calendar moves on (only events after `today` are held back).
    """
    summary = DemoSummary(subjects=subjects)
    actions: list[Action] = list(pool_actions(seed, today))
    for n in range(subjects):
        actions += subject_actions(n, seed, today, summary)
    actions.sort()
    return actions, summary


def pool_actions(seed: int, today: date) -> list[Action]:
    """The inspector pools the demo's market regulators register in January 2021."""
    pools = {
        "food": [
            "市场监管执法一队-张伟",
            "市场监管执法一队-王芳",
            "市场监管执法二队-李娜",
            "市场监管执法二队-刘洋",
            "食品安全科-陈静",
            "食品安全科-杨帆",
        ],
        "market_entities": [
            "市场监管执法一队-赵磊",
            "登记注册科-黄敏",
            "信用监管科-周杰",
            "信用监管科-吴婷",
        ],
    }
    return [
        Action(
            _at(date(2021, 1, 4), random.Random(f"{seed}:pool:{field_code}")),
            -1,
            "register_inspectors",
            {"field": field_code, "inspectors": names, "actor": SYSTEM_ACTOR},
        )
        for field_code, names in pools.items()
        if date(2021, 1, 4) <= today
    ]


def subject_actions(n: int, seed: int, today: date, summary: DemoSummary) -> list[Action]:
    """One subject's history (the n-th of a seed), sorted by record time."""
    fields = sorted(catalogue().fields)
    weights = [w for _, w, _ in INDICATORS]
    actions: list[Action] = []
    seq = iter(range(10**6))

    def add(at: datetime, command: str, **kwargs: Any) -> None:
        if at.astimezone(CST).date() <= today:
            kwargs.setdefault("actor", SYSTEM_ACTOR)
            actions.append(Action(at, n * 10**6 + next(seq), command, kwargs))

    rng = random.Random(f"{seed}:{n}")
    kind, prefix, _ = rng.choices(KINDS, weights=[w for *_, w in KINDS])[0]
    code = make_uscc(rng, prefix)
    # Market regulation's fields hold most of a city's enterprises.
    primary = rng.choices(["food", "market_entities", "other"], weights=[0.25, 0.15, 0.6])[0]
    own = (
        ["social_organizations"]
        if kind == "social_organization"
        else sorted(
            {primary if primary != "other" else rng.choice(fields)}
            | set(rng.sample(fields, k=rng.choice([0, 0, 1])))
        )
    )
    name = f"舞钢市{rng.choice(NAME_WORDS)}{NAME_TRADES[own[0]]}{SUFFIX[kind]}"
    established = (
        None if rng.random() < 0.1 else _random_day(rng, date(2003, 1, 1), date(2022, 12, 31))
    )
    first_day = max(START, established or START)
    add(
        _at(first_day, rng),
        "register_subject",
        uscc=code,
        name=name,
        kind=kind,
        fields=own,
        established_on=established,
    )
    # Most subjects are clean; a long tail has many records.
    count = 0 if rng.random() < 0.35 else min(int(rng.paretovariate(1.3)), 14)
    story = rng.random()
    if story < 0.04:
        _corrected_after_publication(rng, add, code, n, own[0], first_day)
        summary.samples.setdefault("restated", code)
    elif story < 0.07:
        _listed_late(rng, add, code, n, own[0], first_day)
        summary.samples.setdefault("restated_listing", code)
    elif story < 0.17 and count == 0:
        _exemplary(rng, add, code, n, own[0], first_day)
        summary.samples.setdefault("exemplary", code)
    for i in range(count):
        indicator, _, chooser = rng.choices(INDICATORS, weights=weights)[0]
        domain = rng.choice(own) if chooser == "own" else chooser
        decided = _random_day(rng, first_day, today)
        lag = rng.randint(1, 12)
        if rng.random() < 0.06:
            lag = rng.randint(90, 420)  # a backdated fact: learned long after the decision
        fact_id = _uuid(rng)
        add(
            _at(decided, rng, lag),
            "record_fact",
            uscc=code,
            indicator=indicator,
            decided_on=decided,
            domain=domain,
            document_no=f"舞{_short(domain)}〔{decided.year}〕{n:04d}{i:02d}号",
            fact_id=fact_id,
        )
        learned = decided + timedelta(days=lag)
        if indicator in ("tax.arrears", "business.anomaly") and rng.random() < 0.7:
            ended = max(add_months(decided, rng.randint(1, 18)), learned + timedelta(days=1))
            add(
                _at(ended, rng, rng.randint(0, 5)),
                "end_fact",
                uscc=code,
                fact_id=fact_id,
                ended_on=ended,
                reason="履行完毕",
            )
        roll = rng.random()
        if roll < 0.02:
            revoked_on = learned + timedelta(days=rng.randint(10, 200))
            add(
                _at(revoked_on, rng),
                "revoke_fact",
                uscc=code,
                fact_id=fact_id,
                reason="行政复议撤销",
            )
        elif roll < 0.12:
            _objection(rng, add, code, fact_id, indicator, learned, today)
        elif roll < 0.22 and indicator.startswith(("penalty", "contract", "wage", "social")):
            _repair(rng, add, code, fact_id, indicator, decided, learned)
    if rng.random() < 0.05:
        listed = _random_day(rng, first_day, today)
        listing_id = _uuid(rng)
        list_type = rng.choice(LIST_TYPES)
        add(
            _at(listed, rng, rng.randint(1, 10)),
            "list_subject",
            uscc=code,
            list_type=list_type,
            listed_on=listed,
            domain="taxation" if list_type == "major_tax_violation" else rng.choice(own),
            document_no=f"舞名单〔{listed.year}〕{n:04d}号",
            authority="舞钢市人民法院" if list_type == "judgment_defaulter" else "舞钢市信用办",
            listing_id=listing_id,
        )
        if rng.random() < 0.5:
            delisted = listed + timedelta(days=rng.randint(60, 900))
            add(
                _at(delisted, rng, rng.randint(1, 10)),
                "delist_subject",
                uscc=code,
                listing_id=listing_id,
                delisted_on=delisted,
                reason=rng.choice(["expired", "repaired", "repaired", "revoked"]),
            )
        summary.samples.setdefault("listed", code)
    for domain in own:
        if rng.random() < 0.3:
            for year in range(2021, today.year + 1):
                evaluated = date(year, 6, 30)
                if established is not None and evaluated < established:
                    continue
                grading: dict[str, Any] = (
                    {"native_grade": rng.choice("AABBMCD")}
                    if domain == "taxation"
                    else {"score": str(rng.randint(40, 99))}
                )
                add(
                    _at(evaluated, rng, rng.randint(1, 20)),
                    "record_industry_evaluation",
                    uscc=code,
                    domain=domain,
                    evaluated_on=evaluated,
                    model=f"{domain}-{year}",
                    document_no=f"{domain}-{year}-{code}",
                    **grading,
                )
    if count == 0 and story >= 0.17:
        summary.samples.setdefault("clean", code)
    elif count >= 5:
        summary.samples.setdefault("many_records", code)
    actions.sort()
    return actions


class _Add(Protocol):
    def __call__(self, at: datetime, command: str, **kwargs: Any) -> None: ...


def _story_year(rng: random.Random, first_day: date) -> int:
    return max(rng.randint(2021, 2025), first_day.year + 1)


def _corrected_after_publication(
    rng: random.Random, add: _Add, code: str, n: int, domain: str, first_day: date
) -> None:
    """A serious penalty graded into one year's 31-October result, voided on objection in
    November: the published result keeps it, the restatement does not."""
    year = _story_year(rng, first_day)
    decided = date(year, rng.randint(3, 9), rng.randint(1, 28))
    fact_id = _uuid(rng)
    add(
        _at(decided, rng, rng.randint(1, 10)),
        "record_fact",
        uscc=code,
        indicator="penalty.serious",
        decided_on=decided,
        domain=domain,
        document_no=f"舞{_short(domain)}〔{year}〕{n:04d}90号",
        fact_id=fact_id,
    )
    filed = date(year, 11, rng.randint(2, 12))
    objection_id = _uuid(rng)
    add(
        _at(filed, rng),
        "file_objection",
        uscc=code,
        target_id=fact_id,
        filed_on=filed,
        grounds="处罚决定已被行政复议撤销",
        actor=PLATFORM_ACTOR,
        objection_id=objection_id,
    )
    resolved = filed + timedelta(days=rng.randint(5, 12))
    add(
        _at(resolved, rng),
        "resolve_objection",
        objection_id=objection_id,
        outcome="corrected",
        resolved_on=resolved,
        note="经核查予以更正：原处罚已撤销",
        void=True,
    )


def _exemplary(
    rng: random.Random, add: _Add, code: str, n: int, domain: str, first_day: date
) -> None:
    """A taxpayer rated A every April and honoured every other year: graded 优."""
    for year in range(max(2019, first_day.year + 1), 2031):
        rated = date(year, 4, rng.randint(1, 28))
        add(
            _at(rated, rng, rng.randint(1, 10)),
            "record_fact",
            uscc=code,
            indicator="tax.a_level",
            decided_on=rated,
            domain="taxation",
            document_no=f"舞税信〔{year}〕{n:04d}号",
        )
        if year % 2 == 0:
            honoured = date(year, 5, rng.randint(1, 28))
            add(
                _at(honoured, rng, rng.randint(1, 10)),
                "record_fact",
                uscc=code,
                indicator="honor.municipal",
                decided_on=honoured,
                domain=domain,
                document_no=f"舞政表〔{year}〕{n:04d}号",
            )


def _listed_late(
    rng: random.Random, add: _Add, code: str, n: int, domain: str, first_day: date
) -> None:
    """A judgment-defaulter listing decided in September, reported to the platform only in
    December: that year's published result missed it, the restatement grades 差."""
    year = _story_year(rng, first_day)
    listed = date(year, 9, rng.randint(1, 28))
    add(
        _at(date(year, 12, rng.randint(1, 20)), rng),
        "list_subject",
        uscc=code,
        list_type="judgment_defaulter",
        listed_on=listed,
        domain=domain,
        document_no=f"(〔{year}〕豫0481执{n:04d}号)",
        authority="舞钢市人民法院",
        listing_id=_uuid(rng),
    )


PLATFORM_ACTOR = Actor("system:platform", Role.PLATFORM)


def _objection(
    rng: random.Random,
    add: _Add,
    code: str,
    fact_id: UUID,
    indicator: str,
    learned: date,
    today: date,
) -> None:
    filed = learned + timedelta(days=rng.randint(3, 60))
    objection_id = _uuid(rng)
    add(
        _at(filed, rng),
        "file_objection",
        uscc=code,
        target_id=fact_id,
        filed_on=filed,
        grounds="处罚决定已撤销或记录有误",
        actor=PLATFORM_ACTOR,
        objection_id=objection_id,
    )
    resolved = filed + timedelta(days=rng.randint(3, 20))
    if resolved > today - timedelta(days=10) and rng.random() < 0.5:
        return  # recent objections stay pending
    outcome = rng.choice(["corrected", "corrected", "rejected", "rejected", "undetermined"])
    correction: dict[str, Any] = {}
    if outcome == "corrected":
        if indicator == "penalty.general" and rng.random() < 0.5:
            correction = {"indicator": "penalty.minor"}
        else:
            correction = {"void": True}
    notes = {"corrected": "予以更正", "rejected": "维持原记录", "undetermined": "无法确认"}
    add(
        _at(resolved, rng),
        "resolve_objection",
        objection_id=objection_id,
        outcome=outcome,
        resolved_on=resolved,
        note="经核查" + notes[outcome],
        **correction,
    )


def _repair(
    rng: random.Random,
    add: _Add,
    code: str,
    fact_id: UUID,
    indicator: str,
    decided: date,
    learned: date,
) -> None:
    wait = {"penalty.minor": 0, "penalty.serious": 12}.get(indicator, 3)
    requested = max(
        add_months(decided, wait) + timedelta(days=rng.randint(1, 40)),
        learned + timedelta(days=1),
    )
    repair_id = _uuid(rng)
    add(
        _at(requested, rng),
        "request_repair",
        uscc=code,
        target_id=fact_id,
        requested_on=requested,
        commitment="本单位已纠正失信行为，承诺依法诚信经营。",
        actor=PLATFORM_ACTOR,
        repair_id=repair_id,
    )
    decided_on = requested + timedelta(days=rng.randint(2, 14))
    approved = rng.random() < 0.75
    add(
        _at(decided_on, rng),
        "decide_repair",
        repair_id=repair_id,
        approved=approved,
        decided_on=decided_on,
        reason="符合信用修复条件" if approved else "未完成整改",
    )


def load(
    app: CreditLedger, clock: SimulatedClock, actions: list[Action]
) -> Iterator[tuple[Action, LedgerError | None]]:
    """Apply the actions in record-time order; yields each with the refusal it met, if any.

    Refusals are expected now and then (a repair drawn for a fact that an objection voided
    first): the ledger's rules decide, exactly as they would for a real platform.
    """
    for action in actions:
        clock.advance_to(action.at)
        try:
            action.run(app)
        except LedgerError as exc:
            yield action, exc
        else:
            yield action, None


#: The practitioners' fields of the plan's annex whose subjects are people (DOMAIN §9).
PRACTITIONER_FIELDS = ("private_education", "legal_services", "civil_air_defence")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


def identity_number(rng: random.Random) -> str:
    """A valid resident identity number of someone born in Wugang (GB 11643 check digit)."""
    born = _random_day(rng, date(1965, 1, 1), date(2000, 12, 31))
    body = f"{REGION}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return body + ric.calc_check_digit(body + "0")


def load_practitioners(app: CreditLedger, seed: int, count: int = 6) -> list[str]:
    """A few natural persons (teachers, lawyers, civil-air-defence staff), registered with
    their identity sealed, and a record or two each; answers their refs. Needs the master key
    and ledger secret (`CREDIT_LEDGER_MASTER_KEY`, `CREDIT_LEDGER_PERSON_SECRET`)."""
    refs = []
    for n in range(count):
        rng = random.Random(f"{seed}:practitioner:{n}")
        field_code = PRACTITIONER_FIELDS[n % len(PRACTITIONER_FIELDS)]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        ref = app.register_person(
            id_number=identity_number(rng), name=name, actor=SYSTEM_ACTOR, fields=[field_code]
        ).ref
        refs.append(ref)
        # Every other one has a penalty; the rest a municipal honour.
        penalty = n % 2 == 0
        app.handle(
            RecordFact(
                uscc=ref,
                indicator=rng.choice(["penalty.general", "penalty.serious"])
                if penalty
                else "honor.municipal",
                decided_on=_random_day(rng, date(2024, 1, 1), date(2025, 6, 30)),
                domain=field_code,
                document_no=f"舞{_short(field_code)}{'罚' if penalty else '表'}〔2025〕"
                f"{rng.randint(1, 99)}号",
                actor=SYSTEM_ACTOR,
            )
        )
    return refs
