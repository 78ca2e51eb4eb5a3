"""An e-mail backend for unit tests of the outbox state machine: it records what it sends,
raises the errors a test scripts for it, and can hold a send until a test lets it finish."""

import threading

from django.core.mail.backends.base import BaseEmailBackend


class ScriptedBackend(BaseEmailBackend):
    sent: list = []
    opened: int = 0
    errors: list[BaseException] = []
    # Set by a test to catch a send in the middle: `sending` is set when a send starts, and
    # the send waits for `release`.
    sending: threading.Event | None = None
    release: threading.Event | None = None
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        cls.sent = []
        cls.opened = 0
        cls.errors = []
        cls.sending = None
        cls.release = None

    def open(self):
        type(self).opened += 1
        return True

    def send_messages(self, email_messages):
        cls = type(self)
        if cls.sending is not None:
            cls.sending.set()
        if cls.release is not None:
            cls.release.wait(timeout=30)
        with cls.lock:
            if cls.errors:
                raise cls.errors.pop(0)
            cls.sent.extend(email_messages)
        return len(email_messages)
