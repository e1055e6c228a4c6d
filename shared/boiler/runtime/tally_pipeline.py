"""The pipeline of one trigger of an aggregate view (runtime/tallies.py): marks, optimistic
commits, retries and the durable hand-off, like ``Pipeline`` for record views.

A member event may touch many keys (a meeting with 2,000 participants moves 2,000 agendas):
they go KEYS_PER_COMMIT at a time, each commit complete on its own, the last one with the
ledger entry. A commit that dies half way is redone from current state, so the keys already
done find nothing left to write. An event of one commit is marked in the states it writes,
as record views mark their records (runtime/bookkeeping.py, "the ledger").

>>> TallyPipeline(build.trigger("agenda_on_meeting_card")).handle(event_id, "meetingCards/m1")
Outcome(status='applied', aggregates=3, views_written=3, ...)
"""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from ..compiler import TriggerSpec
from ..sources import RootSpec
from . import bookkeeping, durable, retry
from .attempt import Attempt
from .options import Options
from .pipeline import Outcome, Pipeline, TriggerPipeline, _Duplicate, _Event
from .tallies import TallyBuilder, TallyResult, is_tally_view


class TallyPipeline(TriggerPipeline):
    """Runs one aggregate view trigger's events; safe to call concurrently and repeatedly."""

    def run(self, outcome: Outcome, pending_entry: str = durable.HANDED_OFF) -> Outcome:
        """``handle`` without the hand-off: raises if the event could not be applied."""
        event = self._event(outcome, pending_entry)
        origin = bookkeeping.origin_of(self.trigger.name, outcome.event_id, outcome.document)
        builder = TallyBuilder(self.trigger.view, self.client, origin)
        done: set[str] = set()
        known: list[str] | None = None  # a member event's keys, found by its first commit
        try:
            while True:
                result = self._commit(builder, event, outcome, done, known)
                done.update(result.keys, result.handled)
                if known is None and not result.complete:
                    known = result.affected  # several commits: the ledger marks the last
                outcome.aggregates += len(result.keys)
                outcome.views_written += result.written
                outcome.views_deleted += result.deleted
                outcome.invalid.extend(result.problems)
                if result.complete:
                    break
        except _Duplicate:
            outcome.status = "duplicate"
        return self._finish(outcome, event)

    def _commit(
        self,
        builder: TallyBuilder,
        event: _Event,
        outcome: Outcome,
        done: set[str],
        known: list[str] | None,
    ) -> TallyResult:
        """One guarded commit for the next keys, retried on a lost race."""
        source = self.trigger.source
        document = outcome.document

        def once(number: int) -> TallyResult:
            outcome.attempts += 1
            outcome.retries += number > 1
            attempt = Attempt(self.client, number)
            self._fault("before_read", outcome)
            mark = None if event.committed or event.multi else event.mark
            if isinstance(source, RootSpec):
                result = builder.apply_root(attempt, document, mark)
            else:
                result = builder.apply_member(attempt, source.model, document, done, known, mark)
            if result.duplicate:
                raise _Duplicate()  # another delivery of this event committed it
            self._fault("after_read", outcome)
            if known is None and not result.complete:  # the first of several commits
                event.multi = True
                if event.ledger.get().exists:
                    raise _Duplicate()
            if result.complete and event.multi:
                attempt.create(event.ledger, self._ledger_entry(document, result))
            self._fault("commit", outcome)
            try:
                attempt.commit()
            except gexc.AlreadyExists as cause:
                if event.multi and event.ledger.get().exists:
                    raise _Duplicate() from cause
                raise
            event.committed = event.committed or bool(attempt.writes)
            outcome.commits += 1 if attempt.writes else 0
            self._fault("after_commit", outcome)
            return result

        name = f"{self.trigger.name}: event {outcome.event_id}"
        result: Any = retry.retrying(once, name, self.options.max_retries)[0]
        return result  # type: ignore[no-any-return]

    def _ledger_entry(self, document: str, result: TallyResult) -> dict[str, Any]:
        return bookkeeping.ledger_entry(self.trigger.name, document, invalid=bool(result.problems))


def pipeline_for(
    trigger: TriggerSpec, client: firestore.Client | None = None, options: Options | None = None
) -> TriggerPipeline:
    """The pipeline that runs ``trigger``: a record view's or an aggregate view's."""
    if is_tally_view(trigger.view):
        return TallyPipeline(trigger, client=client, options=options)
    return Pipeline(trigger, client=client, options=options)
