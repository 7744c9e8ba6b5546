"""What the outbox tells the apps whose messages it carries.

The outbox knows nothing of appointments: when one of its moves matters to
the thing a message is about, it says so here, inside the transaction of
the move, and the app that composed the message (confirmations, for an
appointment's) writes it in that thing's history.
"""

from django.dispatch import Signal

# A message left (R29): `message`, with its channel, address and sent_at.
message_sent = Signal()
# Something happened to a message that its subject's history should say:
# `message`, `said` (an event, history/events.py) and `actor` (who did it).
message_noted = Signal()
# A patient's SMS or key press was recorded: `reply_id`, once it commits.
reply_recorded = Signal()
