"""A message moves only as the table says, and only outbox/states.py moves one.

The table is written three times for three readers (`TRANSITIONS` for the
code, the module's docstring, the README): these tests hold them to each
other and to what the code really does.
"""

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from conftest import product_modules
from history.events import Reason
from outbox import states
from outbox.models import Message

ROOT = Path(__file__).resolve().parents[2]
NAMES = "|".join(Message.State.values)
ROW = re.compile(rf"^\s*\|?\s*`?({NAMES})`?\s*\|?\s*`?({NAMES})`?\s*(\||\s)", re.MULTILINE)

# Every move this module offers, as the dispatcher, the planner and a
# provider's report call it; each says whether it moved the message.
MOVES = {
    "claim": lambda message: bool(states.claim_due(10)),
    "withdraw_pending": lambda message: bool(states.withdraw_pending(message.appointment_ref, Reason.MOVED)),
    "release": lambda message: states.release(message),
    "retry_later": lambda message: states.retry_later(message, timezone.now() + timedelta(minutes=1), "busy"),
    "postpone": lambda message: states.postpone(message, timezone.now() + timedelta(hours=1)),
    "record_sent": lambda message: states.record_sent(message, timezone.now(), "SM1"),
    "withdraw": lambda message: states.withdraw(message, Reason.MOVED),
    "fail": lambda message: states.fail(message, Reason.REFUSED),
    "outcome_unknown": lambda message: states.outcome_unknown(message, Reason.NO_ANSWER),
    "delivered": lambda message: (
        states.is_forward(message, states.DELIVERED) and states.delivered(message, expected=message.state)
    ),
    "failed by report": lambda message: (
        states.is_forward(message, states.FAILED) and states.fail(message, "x", expected=message.state)
    ),
}
# What each single-row move writes besides the state.
WRITES = ["due_at", "reason", "error", "sent_at", "provider_id", "attempts"]


def table_in(text: str) -> set[tuple[str, str]]:
    return {(match[1], match[2]) for match in ROW.finditer(text)}


def test_the_docstring_and_the_readme_show_the_table_the_code_holds():
    assert table_in(states.__doc__) == states.TRANSITIONS
    readme = (ROOT / "README.md").read_text()
    assert table_in(readme) == states.TRANSITIONS


@pytest.mark.django_db
def test_every_move_the_code_makes_is_in_the_table_and_the_table_has_no_other(patient, clinic):
    made = set()
    for name, move in MOVES.items():
        for state in Message.State.values:
            Message.objects.all().delete()
            message = Message.objects.create(
                kind=Message.Kind.REMINDER,
                clinic=clinic,
                patient=patient,
                language="fr",
                due_at=timezone.now() - timedelta(minutes=1),
                claimed_at=timezone.now(),
                attempts=2,
                state=state,
            )
            try:
                won = move(message)
            except ValueError:  # a move the table does not have: refused, nothing written
                won = "refused"
            stored = Message.objects.get(pk=message.pk)
            if stored.state != state:
                made.add((state, stored.state))
            # It says whether it moved the message (record_sent: whether it noted a send).
            if name != "record_sent" and won != "refused":
                assert won is (stored.state != state), (name, state)
            if won and name not in ("claim", "withdraw_pending"):
                # The row in memory follows the row stored.
                assert message.state == stored.state, (name, state)
                assert [getattr(message, f) for f in WRITES] == [getattr(stored, f) for f in WRITES], (name, state)
    assert made == states.TRANSITIONS


@pytest.mark.django_db
def test_a_released_message_is_pending_again_as_it_was(patient, clinic):
    """A claimed message whose call never started: its attempt is undone
    only when one was counted for it."""
    Message.objects.create(
        kind=Message.Kind.REMINDER, clinic=clinic, patient=patient, language="fr", due_at=timezone.now(), attempts=2
    )
    [claimed] = states.claim_due(1)
    assert states.release(claimed) is True
    assert Message.objects.get(pk=claimed.pk).attempts == 2
    [claimed] = states.claim_due(1)
    claimed.attempts += 1  # prepared: its attempt counted
    assert states.release(claimed, attempt_counted=True) is True
    assert Message.objects.get(pk=claimed.pk).attempts == 2


@pytest.mark.django_db
def test_a_send_is_noted_once_whoever_records_it_first(patient, clinic):
    """The dispatcher and a provider's report may both record a send: the
    first notes it, the second only fills in what is missing."""
    message = Message.objects.create(
        kind=Message.Kind.REMINDER, clinic=clinic, patient=patient, language="fr", due_at=timezone.now()
    )
    [claimed] = states.claim_due(1)
    assert states.record_sent(claimed, timezone.now(), "") is True
    again = Message.objects.get(pk=message.pk)
    assert states.record_sent(again, timezone.now(), "SM1") is False
    stored = Message.objects.get(pk=message.pk)
    assert (stored.state, stored.provider_id) == (states.SENT, "SM1")


@pytest.mark.django_db
def test_a_move_the_table_does_not_have_is_refused_and_changes_nothing(patient, clinic):
    message = Message.objects.create(
        kind=Message.Kind.REMINDER, clinic=clinic, patient=patient, language="fr", due_at=timezone.now()
    )
    with pytest.raises(ValueError):
        states.delivered(message, expected=states.PENDING)  # pending → delivered is not a move
    with pytest.raises(ValueError):
        states.fail(message, Reason.REFUSED, expected=states.FAILED)  # failed → failed is not a move
    assert Message.objects.get(pk=message.pk).state == states.PENDING


@pytest.mark.django_db
def test_a_move_says_whether_it_won(patient, clinic):
    """Two workers (or a worker and the lease sweep) read the same row: the
    second move finds it moved already and changes nothing."""
    message = Message.objects.create(
        kind=Message.Kind.REMINDER, clinic=clinic, patient=patient, language="fr", due_at=timezone.now()
    )
    [first] = states.claim_due(1)
    second = Message.objects.get(pk=message.pk)
    assert states.outcome_unknown(first, Reason.WORKER_STOPPED) is True
    assert states.fail(second, Reason.REFUSED) is False
    assert Message.objects.get(pk=message.pk).state == states.UNKNOWN


def writes_message_state(tree: ast.AST) -> list[int]:
    """Lines of `Message….update(state=…)` and of SQL that sets a state."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            if any(keyword.arg == "state" for keyword in node.keywords):
                chain = node.func.value
                while isinstance(chain, ast.Call | ast.Attribute):
                    chain = chain.func if isinstance(chain, ast.Call) else chain.value
                if isinstance(chain, ast.Name) and chain.id == "Message":
                    lines.append(node.lineno)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"SET state\b", node.value):
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_states_module_moves_a_message():
    found = {
        str(path.relative_to(ROOT)): lines
        for path in product_modules()
        if (lines := writes_message_state(ast.parse(path.read_text())))
    }
    assert set(found) == {"outbox/states.py"}, found
