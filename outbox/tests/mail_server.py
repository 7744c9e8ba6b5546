"""A real SMTP server on loopback (aiosmtpd), for the Hub's email channel
to talk to as it would to a clinic's mail server.

It can accept, greylist (451 at RCPT TO the first time it sees an address),
refuse an address at RCPT TO or the message at DATA with any reply,
acknowledge late (after the client's timeout), or be down.
"""

import asyncio
import socket
import threading
from collections import Counter
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailServer:
    def __init__(self):
        self.port = free_port()
        self.received: list = []  # email.message.Message, in arrival order
        self.lock = threading.Lock()
        self.greylist = False
        self.seen: set[str] = set()
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 User unknown"
        self.data_reply: str | None = None  # e.g. "552 5.2.2 Mailbox full"
        self.ack_delay = 0.0  # seconds before answering 250 to the message
        self.controller = None

    # --- the server's behaviour (aiosmtpd handler hooks) ---------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if self.greylist and address not in self.seen:
            self.seen.add(address)
            return "451 4.7.1 Greylisted, please try again later"
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_reply:
            return self.data_reply
        # The server has the message from here on, whatever happens next.
        with self.lock:
            self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        if self.ack_delay:
            await asyncio.sleep(self.ack_delay)
        return "250 2.0.0 Message accepted"

    # --- control ---------------------------------------------------------------

    def start(self) -> "MailServer":
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def up(self) -> bool:
        return self.controller is not None

    def recipients(self) -> Counter:
        """How many times each address received a message."""
        with self.lock:
            return Counter(mail["To"] for mail in self.received)

    def deliveries(self) -> Counter:
        """How many times each (recipient, subject) arrived."""
        with self.lock:
            return Counter((str(mail["To"]).strip(), str(mail["Subject"]).strip()) for mail in self.received)
