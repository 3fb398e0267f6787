"""Script and HTML in shopper messages, bot replies and article text are shown as the literal text
they are, in the widget and in the staff pages, in a real Chromium: no dialog opens, no script runs,
no element is injected.

Bot replies are published exactly as a reply worker publishes them (typing, deltas, done, and the
stored message), since no model can be made to write a given payload on demand."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect
from widget_page import open_staffed_conversation

from chatbot.conversations import publish
from chatbot.conversations.models import Conversation, Message
from chatbot.dashboard.models import Membership
from chatbot.knowledge.models import Article

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every element a payload would create carries class "pwn", so any that got in can be found.
SHOPPER = (
    '<img class=pwn src=x onerror="window.__xss=1;alert(1)">'
    "<script class=pwn>window.__xss=2</script>{{ 7|add:1 }}"
)
BOT = (
    '<svg class=pwn onload="window.__xss=3;alert(3)"></svg>'
    '<a class=pwn href="javascript:alert(4)">x</a>{% now "Y" %}'
)
ARTICLE = (
    '"><iframe class=pwn srcdoc="<script>parent.__xss=5;alert(5)</script>"></iframe>'
    "<b class=pwn>Bold</b> returns"
)
WIDGET = "#parley-chat"


class Watched:
    """A page, with every dialog it tries to open recorded (and dismissed)."""

    def __init__(self, context):
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )

    def assert_inert(self) -> None:
        injected = self.page.locator(".pwn")  # also inside the widget's (open) shadow root
        assert injected.count() == 0, injected.evaluate_all("nodes => nodes.map(n => n.outerHTML)")
        assert self.page.evaluate("window.__xss === undefined")
        assert self.dialogs == []


def publish_reply(conversation: Conversation, text: str) -> Message:
    """What a worker does for one reply: typing, the text in two deltas, the stored message, done."""
    reply_id = str(uuid.uuid4())
    group = conversation.group_name
    publish.send_frame(group, {"type": "typing", "reply_id": reply_id})
    half = len(text) // 2
    for seq, part in enumerate([text[:half], text[half:]]):
        publish.send_frame(group, {"type": "delta", "reply_id": reply_id, "seq": seq, "text": part})
    message = Message.objects.create(
        conversation=conversation, role=Message.Role.BOT, text=text, reply_id=reply_id
    )
    publish.send_frame(
        group, {"type": "done", "reply_id": reply_id, "message_id": message.pk, "text": text}
    )
    return message


def shown_texts(page, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent.trim())")


def test_the_widget_shows_hostile_text_as_text(browser, live_stack, demo_store):
    demo_store.allowed_origins.append(live_stack.origin)
    demo_store.save()
    context = browser.new_context()
    shop = Watched(context)
    shop.page.goto(f"{live_stack.base_url}/")
    # A person answers it, so no model reply interleaves with the bot replies published below.
    conversation = open_staffed_conversation(shop.page, demo_store)
    shop.page.locator(f"{WIDGET} textarea").fill(SHOPPER)
    shop.page.locator(f"{WIDGET} textarea").press("Enter")
    expect(shop.page.locator(f"{WIDGET} .msg.shopper")).not_to_have_class(
        "msg shopper sending", timeout=15_000
    )
    for text in (BOT, ARTICLE):
        publish_reply(conversation, text)
        expect(shop.page.locator(f"{WIDGET} .msg.bot").last).to_have_text(text, timeout=15_000)

    stored = [m.text for m in Message.objects.filter(conversation=conversation)]
    for page_state in ("live", "after a reload (resynced from the database)"):
        texts = shown_texts(shop.page, f"{WIDGET} .msg.shopper, {WIDGET} .msg.bot")
        assert [SHOPPER, BOT, ARTICLE] == [t for t in texts if t in (SHOPPER, BOT, ARTICLE)], (
            page_state
        )
        assert texts == stored, page_state
        shop.assert_inert()
        if page_state == "live":
            shop.page.reload()
            shop.page.locator(f"{WIDGET} .launcher").click()
            expect(shop.page.locator(f"{WIDGET} .msg.bot").last).to_have_text(ARTICLE)
    context.close()


def test_staff_pages_show_hostile_text_as_text(browser, live_stack, demo_store):
    user = get_user_model().objects.create_superuser("xss-admin", password="a-long-pass-9")
    Membership.objects.create(user=user, store=demo_store, role=Membership.Role.ADMIN)
    conversation = Conversation.objects.create(store=demo_store, shopper_id=uuid.uuid4().hex)
    Message.objects.create(conversation=conversation, role="shopper", text=SHOPPER)
    publish_reply(conversation, BOT)
    article = Article.objects.create(store=demo_store, title=ARTICLE[:150], body=ARTICLE)
    login = Client()
    login.force_login(user)
    context = browser.new_context()
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": login.cookies["sessionid"].value,
                "url": live_stack.base_url,
            }
        ]
    )

    inbox = Watched(context)
    inbox.page.goto(f"{live_stack.base_url}/dashboard/")
    expect(inbox.page.locator("body")).to_contain_text(BOT[:40])
    inbox.assert_inert()

    page = Watched(context)
    page.page.goto(f"{live_stack.base_url}/dashboard/c/{conversation.pk}/")
    expect(page.page.locator("#messages .msg.bot .text")).to_have_text(BOT)
    expect(page.page.locator("#messages .msg.shopper .text")).to_have_text(SHOPPER)
    expect(page.page.locator("#live-status")).to_have_text("live", timeout=15_000)
    publish_reply(conversation, ARTICLE)  # streamed into the open page, then fetched as a row
    expect(page.page.locator("#messages .msg.bot .text").last).to_have_text(ARTICLE, timeout=15_000)
    page.assert_inert()

    admin = Watched(context)
    admin.page.goto(f"{live_stack.base_url}/admin/knowledge/article/{article.pk}/change/")
    expect(admin.page.locator("textarea[name=body]")).to_have_value(ARTICLE)
    admin.assert_inert()
    admin.page.goto(f"{live_stack.base_url}/admin/knowledge/article/")
    expect(admin.page.locator("#result_list")).to_contain_text(ARTICLE[:60])
    admin.assert_inert()
    context.close()
