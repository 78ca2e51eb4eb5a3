"""Which e-mails a registration change produces (writes outbox rows)."""
