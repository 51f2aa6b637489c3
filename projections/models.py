"""The read models: current grades per subject, and the change feed of grade changes.

Rows are written through `Cursor.write_rows`, which stores text escaped (`projections.store.
escape_text`): a read model holds whatever an event holds, NUL and lone surrogates included.
Each model's version counts that escaping as part of its table's shape (v2 of current grades,
v3 of the feed and the tiers), so tables written before it are refilled from position 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from projections.grades import SubjectOutcome
from projections.store import Cursor, tables
from projections.store.tables import Column, Shape


class ReadModel(Protocol):
    """A table kept from the ordered log; dropping and rebuilding it is always safe."""

    name: str
    version: int
    #: What the model needs computed per batch (evaluations around each event cost the most).
    wants_changes: bool
    wants_supervision: bool

    def create(self, cur: Cursor, table: str) -> None:
        """Create the table (and its indexes) if missing."""

    def write(self, cur: Cursor, table: str, outcomes: Sequence[SubjectOutcome]) -> None:
        """Apply a batch's outcomes to the table."""

    def key(self) -> str:
        """The column that orders rows for comparisons."""


class CurrentGrades:
    """Per subject: score, grade and listing today, the date it holds until, the last position."""

    name = "current_grades"
    # v2: text escaped as `escape_text` stores it (backslashes doubled in names, for one).
    version = 2
    wants_changes = False
    wants_supervision = False
    shape = Shape(
        (
            Column("uscc"),
            Column("subject_id"),
            Column("name"),
            Column("kind"),
            Column("fields"),
            Column("score"),
            Column("grade"),
            Column("grade_en"),
            Column("listed", "integer"),
            Column("model"),
            Column("as_of"),
            Column("valid_until", optional=True),
            Column("last_position", "position"),
        ),
        key=("uscc",),
    )

    def create(self, cur: Cursor, table: str) -> None:
        tables.create(cur, table, self.shape)

    @staticmethod
    def row(outcome: SubjectOutcome) -> tuple[object, ...]:
        """The table row of one subject's outcome."""
        ev = outcome.today
        state = outcome.state
        return (
            state.uscc,
            str(outcome.subject_id),
            state.name,
            state.kind,
            sorted(state.fields),  # a JSON column: `holdable` writes it as JSON text
            str(ev.score),
            ev.grade,
            ev.grade_en,
            int(ev.listed),
            ev.model,
            ev.as_of.isoformat(),
            outcome.valid_until.isoformat() if outcome.valid_until else None,
            outcome.last_position,
        )

    def write(self, cur: Cursor, table: str, outcomes: Sequence[SubjectOutcome]) -> None:
        tables.upsert(cur, table, self.shape, [self.row(o) for o in outcomes])

    def key(self) -> str:
        return "uscc"


class Feed:
    """Every grade change, industry grade and inspection result an event made public, keyed by
    the event's ledger position (the cursor)."""

    name = "feed"
    # v3: text escaped as `escape_text` stores it.
    version = 3
    wants_changes = True
    wants_supervision = False
    shape = Shape(
        (
            Column("position", "position"),
            Column("uscc"),
            Column("subject_id"),
            Column("kind"),
            Column("field", optional=True),
            Column("detail", optional=True),
            Column("topic"),
            Column("recorded_at"),
            Column("as_of"),
            Column("score"),
            Column("grade"),
            Column("grade_en"),
            Column("listed", "integer"),
            Column("previous_score", optional=True),
            Column("previous_grade", optional=True),
            Column("valid_until", optional=True),
        ),
        key=("position",),
    )

    def create(self, cur: Cursor, table: str) -> None:
        tables.create(cur, table, self.shape)

    def write(self, cur: Cursor, table: str, outcomes: Sequence[SubjectOutcome]) -> None:
        rows = []
        for outcome in outcomes:
            subject_id = str(outcome.subject_id)  # every change of an outcome is its subject's
            for change in outcome.changes:
                ev, prev = change.evaluation, change.previous
                rows.append(
                    (
                        change.position,
                        change.uscc,
                        subject_id,
                        change.kind,
                        change.field,
                        change.detail,
                        change.topic,
                        change.recorded_at,
                        change.as_of.isoformat(),
                        str(ev.score),
                        ev.grade,
                        ev.grade_en,
                        int(ev.listed),
                        str(prev.score) if prev else None,
                        prev.grade if prev else None,
                        change.valid_until.isoformat() if change.valid_until else None,
                    )
                )
        # A position is written once; a replayed batch (after a crash) rewrites the same row.
        tables.insert_new(cur, table, self.shape, rows)

    def key(self) -> str:
        return "position"


class SupervisionTiers:
    """Per field and subject: today's tier, grade letter and its basis (department worklists)."""

    name = "supervision"
    # v2: the same rows, plus an index on subject_id. Each batch replaces its subjects' rows by
    # subject_id; without the index every delete scanned the table (quadratic catch-up).
    # v3: text escaped as `escape_text` stores it (names).
    version = 3
    wants_changes = False
    wants_supervision = True
    shape = Shape(
        (
            Column("field"),
            Column("uscc"),
            Column("subject_id"),
            Column("name"),
            Column("tier"),
            Column("grade"),
            Column("basis"),
            Column("public_grade"),
            Column("industry_grade", optional=True),
            Column("listed", "integer"),
            Column("ratio"),
            Column("max_per_year", "integer"),
            Column("as_of"),
            Column("last_position", "position"),
        ),
        key=("field", "uscc"),
        indexes=(("subject", "subject_id"),),
    )

    def create(self, cur: Cursor, table: str) -> None:
        tables.create(cur, table, self.shape)

    def write(self, cur: Cursor, table: str, outcomes: Sequence[SubjectOutcome]) -> None:
        rows = [
            (
                s.field,
                s.uscc,
                str(o.subject_id),
                o.state.name,
                s.tier,
                s.grade,
                s.basis,
                s.public.grade,
                s.industry.grade if s.industry else None,
                int(s.public.listed),
                str(s.ratio),
                s.max_per_year,
                s.as_of.isoformat(),
                o.last_position,
            )
            for o in outcomes
            for s in o.supervision
        ]
        # A subject's rows are replaced whole: fields it left disappear from the worklists.
        subjects = [str(o.subject_id) for o in outcomes]
        tables.replace_rows(cur, table, self.shape, "subject_id", subjects, rows)

    def key(self) -> str:
        return "field, uscc"


READ_MODELS: dict[str, ReadModel] = {
    m.name: m for m in (CurrentGrades(), Feed(), SupervisionTiers())
}
