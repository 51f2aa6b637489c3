"""Value types of the ledger: credit codes, subject kinds, acting parties, and China-time dates."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from uuid import UUID, uuid5

from stdnum.cn import uscc as stdnum_uscc

from ledger.domain.errors import Forbidden, InvalidInput
from ledger.domain.persons import is_person_ref, mask_id_number, ref_stream_id
from ledger.domain.text import natural_key

#: China Standard Time has had no daylight saving since 1991, so a fixed offset is exact.
CST = timezone(timedelta(hours=8), "CST")

#: Namespace of subject stream ids: the same credit code always maps to the same stream.
SUBJECT_NAMESPACE = UUID("6f1c8a52-2b7e-5d1a-9c3e-0a4d1b2c3e4f")
#: Namespace of locator ids, which find the subject of an objection or repair by its id alone.
LOCATOR_NAMESPACE = UUID("1d2f4e6a-8b0c-5e2d-a4f6-b8c0d2e4f6a8")


class SubjectKind(StrEnum):
    """The kinds of credit subject the ledger grades; a natural person's code is its ref."""

    ENTERPRISE = "enterprise"
    INDIVIDUAL_BUSINESS = "individual_business"
    SOCIAL_ORGANIZATION = "social_organization"
    PUBLIC_INSTITUTION = "public_institution"
    GOVERNMENT_DEPARTMENT = "government_department"
    NATURAL_PERSON = "natural_person"


class ListType(StrEnum):
    """The joint reward-and-punishment dishonesty lists (失信联合奖惩对象名单)."""

    JUDGMENT_DEFAULTER = "judgment_defaulter"
    SERIOUS_ILLEGAL_DISHONEST = "serious_illegal_dishonest"
    MAJOR_TAX_VIOLATION = "major_tax_violation"
    OTHER_JOINT_PUNISHMENT = "other_joint_punishment"


class DelistReason(StrEnum):
    """Why a listing authority removed a listing; `revoked` voids it from the start."""

    EXPIRED = "expired"
    REPAIRED = "repaired"
    REVOKED = "revoked"


class ObjectionOutcome(StrEnum):
    """How an objection ends (DOMAIN §5)."""

    CORRECTED = "corrected"
    REJECTED = "rejected"
    UNDETERMINED = "undetermined"


class Role(StrEnum):
    """Access roles of DOMAIN §7; `system` is the ledger's own tooling (demo, import)."""

    ADMIN = "admin"
    RECORDER = "recorder"
    READER = "reader"
    AUDITOR = "auditor"
    PLATFORM = "platform"
    #: A downstream ledger (a city's) delivering its records up and reading its results (§10).
    FEDERATION = "federation"
    SYSTEM = "system"


WRITE_ROLES: dict[str, frozenset[Role]] = {
    "register": frozenset({Role.ADMIN, Role.RECORDER, Role.FEDERATION, Role.SYSTEM}),
    "record": frozenset({Role.ADMIN, Role.RECORDER, Role.FEDERATION, Role.SYSTEM}),
    "file": frozenset({Role.ADMIN, Role.PLATFORM, Role.FEDERATION, Role.SYSTEM}),
    "erase": frozenset({Role.ADMIN, Role.SYSTEM}),
}


@dataclass(frozen=True)
class Actor:
    """Who performs a write: a token (or the ledger's own tooling) with its role and fields.

    Every stored event carries the actor's id and department, so an auditor can tell who wrote it.
    """

    actor_id: str
    role: Role
    department: str | None = None
    fields: frozenset[str] = field(default_factory=frozenset)
    #: The token's name; for a federation token, the downstream ledger it stands for.
    name: str | None = None

    @property
    def unrestricted(self) -> bool:
        """Admins and the ledger's own tooling may write in every field."""
        return self.role in (Role.ADMIN, Role.SYSTEM)

    def require(self, action: Literal["register", "record", "file", "erase"]) -> None:
        """Refuse the action unless the actor's role may perform it."""
        if self.role not in WRITE_ROLES[action]:
            allowed = ", ".join(sorted(r.value for r in WRITE_ROLES[action] if r != Role.SYSTEM))
            raise Forbidden(
                f"role '{self.role.value}' may not {action}; allowed: {allowed}",
                field="role",
                rule=f"{action} needs one of: {allowed}",
            )


#: The ledger's own tooling (demo loader, command line): unrestricted, and named in every event.
SYSTEM_ACTOR = Actor(actor_id="system:cli", role=Role.SYSTEM, department=None)


def normalize_uscc(value: str, *, field_name: str = "uscc") -> str:
    """The compact, upper-case credit code (or a natural person's ref, which every path and
    command takes in its place), or a refusal naming the GB 32100-2015 rule broken."""
    if isinstance(value, str) and field_name == "uscc":
        return _normalize_cached(value)
    return _normalize(value, field_name)


@lru_cache(maxsize=16384)  # bounded: repeats come within a batch
def _normalize_cached(value: str) -> str:
    # Codes repeat on every command of a subject; the check is pure, so it is worth caching.
    return _normalize(value, "uscc")


#: The characters of a credit code (GB 32100-2015): digits and capitals without I, O, Z, S, V.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: Registration-authority codes (登记管理部门代码) of GB 32100-2015 and the category codes
#: (机构类别代码) each assigns. python-stdnum 2.2 wrongly demands 8 leading digits, refusing the
#: letter authorities, so the structure is checked here and only the check character by stdnum.
USCC_AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办管理的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台旅游部门代表机构", "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {"1": "其他"}),
}


def uscc_structure_problem(code: str) -> str | None:
    """Which structural part of a compact, upper-case credit code is wrong, or None."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    authority = USCC_AUTHORITIES.get(code[0])
    if authority is None:
        return (
            f"registration-authority code (character 1) '{code[0]}' is not one of "
            f"{', '.join(USCC_AUTHORITIES)}"
        )
    name, categories = authority
    if code[1] not in categories:
        return (
            f"category code (character 2) '{code[1]}' is not one that authority "
            f"{code[0]} ({name}) assigns: {', '.join(categories)}"
        )
    if not code[2:8].isascii() or not code[2:8].isdigit():
        return f"administrative division code (characters 3-8) '{code[2:8]}' must be 6 digits"
    for position in range(8, 18):
        if code[position] not in USCC_ALPHABET:
            part = "organisation body (characters 9-17)" if position < 17 else "check character"
            return (
                f"{part} has '{code[position]}' at character {position + 1}; only digits and "
                "capital letters other than I, O, Z, S, V are used"
            )
    expected = stdnum_uscc.calc_check_digit(code[:17])
    if code[17] != expected:
        return f"check character should be '{expected}', not '{code[17]}'"
    return None


def _normalize(value: str, field_name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=field_name, rule="GB 32100-2015")
    # A credit code is a natural key too: full-width ９１… is the same code as 91….
    code = stdnum_uscc.compact(natural_key(value)).upper()
    if is_person_ref(code):
        return code
    problem = uscc_structure_problem(code)
    if problem is None:
        return code
    if len(code) == 18 and code[:17].isdigit():
        # Likely an identity number: never repeated in the clear, not even in a refusal.
        raise InvalidInput(
            f"'{mask_id_number(code)}' is not a credit code; a natural person is named by the "
            "ref its registration answered (POST /v1/persons/lookup finds it)",
            field=field_name,
            rule="GB 32100-2015 unified social credit code, or a person's ref",
        )
    raise InvalidInput(
        f"'{value}' is not a valid unified social credit code: {problem}",
        field=field_name,
        rule="GB 32100-2015 unified social credit code",
    )


@lru_cache(maxsize=16384)  # bounded: a batch's subjects, not the whole population
def subject_id_for(uscc: str) -> UUID:
    """The stream id of a subject: uuid5 of its credit code in a fixed namespace; a person's
    ref names its stream (a keyed hash of the identity number) itself."""
    if is_person_ref(uscc):
        return ref_stream_id(uscc)
    return uuid5(SUBJECT_NAMESPACE, uscc)


def locator_id_for(kind: str, item_id: UUID) -> UUID:
    """The stream id of the locator that maps an objection or repair id to its subject."""
    return uuid5(LOCATOR_NAMESPACE, f"{kind}:{item_id}")


@lru_cache(maxsize=65536)  # pure; every evaluation asks it for each fact's window
def add_months(day: date, months: int) -> date:
    """Add calendar months, clamping to the month's last day (29 Feb + 12 months = 28 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def china_date(instant: datetime) -> date:
    """The calendar date in China Standard Time of a timezone-aware instant."""
    if instant.tzinfo is None:
        raise InvalidInput("instant must carry a UTC offset", field="instant", rule="RFC 3339")
    return instant.astimezone(CST).date()


def end_of_china_day(day: date) -> datetime:
    """The last representable instant of a China Standard Time day (the annual cut-off)."""
    return datetime.combine(day, time.max, tzinfo=CST)


def require_aware(instant: datetime, *, field_name: str) -> datetime:
    """Refuse a naive instant: record times are compared across time zones."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput(
            "instant must carry a UTC offset (e.g. 2023-11-01T00:00:00+08:00)",
            field=field_name,
            rule="RFC 3339 instant with offset",
        )
    return instant
