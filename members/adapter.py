from allauth.account.adapter import DefaultAccountAdapter
from django.utils import translation

from outbox.services import PRERENDERED, queue_email


class AccountAdapter(DefaultAccountAdapter):
    """Sends allauth's mails (verification, password reset, …) through the outbox, so a
    broker or mail-server outage delays them instead of losing them."""

    def send_mail(self, template_prefix, email, context):
        message = self.render_mail(template_prefix, email, context)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        queue_email(
            kind=PRERENDERED,
            recipient=email,
            language=translation.get_language() or "en",
            subject=message.subject,
            body_text=message.body,
            body_html=html,
        )
