"""Shared by the sharing, portal and report tests: a real SMTP server on loopback, and reading what it received
(emails, PDF reports)."""

import email
import email.policy
import io
import re

from pypdf import PdfReader

LINK = re.compile(r"https?://[^/\s]+(/s/[^\s<>\"]+)")


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts and refuses the addresses in `refuse` with 550."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def share_link_path(message: email.message.EmailMessage) -> str:
    return LINK.search(text_of(message)).group(1)


def pdf_text(content: bytes) -> str:
    """The report's words in reading order, line breaks as spaces (a sentence may wrap anywhere)."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())
