"""Django's SMTP backend, told when the message body was handed over.

Once the server has answered 354 to DATA, the body goes out: from then on a
dropped connection or a late answer means the server may have the message,
and sending it again could deliver it twice (D15). smtplib does not say how
far it got, so the connection remembers whether it saw that 354.
"""

import smtplib

from django.core.mail.backends import smtp


class Handover:
    handed_over = False

    def getreply(self):
        code, text = super().getreply()
        if code == 354:  # "start mail input": only ever the answer to DATA
            self.handed_over = True
        return code, text


class SMTP(Handover, smtplib.SMTP):
    pass


class SMTP_SSL(Handover, smtplib.SMTP_SSL):  # noqa: N801 (smtplib's name)
    pass


class EmailBackend(smtp.EmailBackend):
    """Same settings as Django's (EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS…)."""

    handed_over = False

    @property
    def connection_class(self):
        return SMTP_SSL if self.use_ssl else SMTP

    def _send(self, email_message) -> bool:
        try:
            return super()._send(email_message)
        finally:
            if self.connection is not None and self.connection.handed_over:
                self.handed_over = True
