"""`manage.py seed_demo_history`: give the demo store a week of history made of real dialogues.

A few scripted shoppers talk to the demo store through the same code the chat socket and the reply
worker run (the real engine answers, in this process), rate the chat, ask for a person, or just
leave; a demo agent takes over where a person is needed. Each dialogue is then moved back a few
days as a whole, so the reports show several days; every token count, engine time, cost and
first-response time in them was measured. Does nothing if the demo store already has dialogues.
"""

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import F
from django.test import override_settings

from chatbot.conversations import outcomes, replies, services
from chatbot.conversations.models import Conversation, ConversationInfo, Message
from chatbot.dashboard import staffing
from chatbot.dashboard.models import Membership
from chatbot.engine import get_engine
from chatbot.shop import demo
from chatbot.stores.models import Store

AGENT = "robin"
# (days ago, what the shopper writes, then does): "rate N" rates the chat, "staff" has the demo
# agent take over, answer and close, "leave" writes nothing more.
SCRIPTS = [
    (6, ["Hi! How long does shipping take?"], "rate 5"),
    (5, ["Can I return boots I wore once outside?"], "leave"),
    (4, ["Do the Deckhand Boots run small?", "And do you ship to Canada?"], "rate 4"),
    (3, ["My order hasn't arrived after two weeks. Can I talk to a person?"], "staff"),
    (2, ["How do I wash the rain shell?"], "rate 2"),
    (1, ["Is the Lighthouse Beanie warm enough for winter?"], "leave"),
    (0, ["I'd like to speak with someone about a wholesale order."], "leave"),
]


class Command(BaseCommand):
    help = "Run a few scripted shoppers through the bot to give the demo store a history."

    def add_arguments(self, parser):
        parser.add_argument("--max-tokens", type=int, default=64, help="per bot reply")

    def handle(self, *args, max_tokens, **options):
        store = Store.objects.filter(slug=demo.SLUG).first()
        if store is None:
            raise CommandError("No demo store: run `manage.py seed_demo` first.")
        if Message.objects.filter(conversation__store=store, role=Message.Role.SHOPPER).exists():
            self.stdout.write("The demo store already has dialogues: history left as it is.")
            return
        agent = self._agent(store)
        self.stdout.write("Running scripted shoppers through the bot (real replies) ...")
        get_engine()
        with override_settings(REPLY_MAX_TOKENS=max_tokens):
            for days_ago, lines, then in SCRIPTS:
                conversation = self._dialogue(store, agent, lines, then)
                _move_back(conversation, timedelta(days=days_ago))
                conversation.refresh_from_db()
                self.stdout.write(f"  #{conversation.pk} {conversation.state} {lines[0]!r}")
        closed = outcomes.close_inactive()
        self.stdout.write(f"Closed after the inactivity timeout: {closed or 'none'}")

    def _agent(self, store):
        agent, created = get_user_model().objects.get_or_create(
            username=AGENT, defaults={"first_name": "Robin"}
        )
        if created:
            agent.set_unusable_password()
            agent.save()
        Membership.objects.get_or_create(user=agent, store=store)
        return agent

    def _dialogue(self, store, agent, lines, then) -> Conversation:
        conversation = services.open_conversation(store, uuid.uuid4().hex, None)
        for line in lines:
            services.receive_shopper_message(conversation, uuid.uuid4().hex, line)
            if services.needs_reply(conversation.pk):
                replies.answer_pending(conversation.pk)  # what the reply worker runs
        conversation.refresh_from_db()
        if then == "staff":
            outcomes.take_over(conversation, agent)
            staffing.send_staff_message(
                conversation,
                agent,
                "I'm sorry about that! I've found your parcel: it was held at the depot and "
                "leaves today. You'll get the tracking link by email.",
            )
            outcomes.resolve_by_staff(conversation, agent)
            outcomes.record_csat(conversation.pk, 5)
        elif then.startswith("rate"):
            outcomes.record_csat(conversation.pk, int(then.split()[1]))
        return conversation


def _move_back(conversation: Conversation, delta: timedelta) -> None:
    """Shift a whole dialogue into the past, keeping every duration inside it."""
    if not delta:
        return
    Conversation.objects.filter(pk=conversation.pk).update(
        created=F("created") - delta, last_activity=F("last_activity") - delta
    )
    Message.objects.filter(conversation=conversation).update(created=F("created") - delta)
    ConversationInfo.objects.filter(conversation=conversation, escalated_at__isnull=False).update(
        escalated_at=F("escalated_at") - delta
    )
