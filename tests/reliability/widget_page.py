"""The demo page's widget, driven in a browser."""

from playwright.sync_api import expect

from chatbot.conversations.models import Conversation

WIDGET = "#parley-chat"

SHOPPER_ID = """() => {
    const key = Object.keys(window.localStorage).find(k => /^parley:.*:shopper$/.test(k));
    return key ? JSON.parse(window.localStorage.getItem(key)) : null;
}"""


def open_staffed_conversation(page, store) -> Conversation:
    """Open the widget and give its shopper a conversation a person answers (no model replies).

    Opening the widget creates no conversation (the first message does), so it is made here for
    the widget's shopper id: the first message the widget sends goes into it (its `started` frame
    names it)."""
    page.locator(f"{WIDGET} .launcher").click()
    expect(page.locator(f"{WIDGET} .status")).to_have_text("", timeout=15_000)  # hello received
    shopper = page.evaluate(SHOPPER_ID)
    assert not Conversation.objects.filter(store=store).exists(), "opening created a conversation"
    return Conversation.objects.create(
        store=store, shopper_id=shopper, state=Conversation.State.HUMAN
    )
