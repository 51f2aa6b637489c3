"""The deciders: every write rule of a subject command, as pure functions of state and command.

`decide(state, command, context)` refuses the command (a `LedgerError`) or answers a `Decision`:
the events to append and what the command did. The `Subject` aggregate only applies decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.domain import commands
from ledger.domain.deciders import facts, fields, objections, persons, repairs
from ledger.domain.deciders.base import Change, Context, Decision
from ledger.domain.state import SubjectState

__all__ = ["DECIDERS", "Change", "Context", "Decision", "decide"]

#: The decider of each subject command.
DECIDERS: dict[type[Any], Callable[[SubjectState, Any, Context], Decision]] = {
    commands.RegisterSubject: facts.register_subject,
    commands.RecordFact: facts.record_fact,
    commands.EndFact: facts.end_fact,
    commands.RevokeFact: facts.revoke_fact,
    commands.ListSubject: facts.list_subject,
    commands.DelistSubject: facts.delist_subject,
    commands.FileObjection: objections.file_objection,
    commands.ResolveObjection: objections.resolve_objection,
    commands.RequestRepair: repairs.request_repair,
    commands.DecideRepair: repairs.decide_repair,
    commands.RevokeRepair: repairs.revoke_repair,
    commands.RecordIndustryEvaluation: fields.record_industry_evaluation,
    commands.JoinField: fields.join_field,
    commands.LeaveField: fields.leave_field,
    commands.RecordInspectionResult: fields.record_inspection_result,
    commands.EraseIdentity: persons.erase_identity,
}


def decide(state: SubjectState, command: commands.SubjectCommand, context: Context) -> Decision:
    """What `command` does to the subject whose stream folds to `state` (an empty state: the
    subject has no stream), or the refusal it meets."""
    return DECIDERS[type(command)](state, command, context)
