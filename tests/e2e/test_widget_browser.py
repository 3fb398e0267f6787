"""The widget in a real headless Chromium on the demo shop, against the running product."""

import pytest
from playwright.sync_api import expect

from chatbot.conversations.models import Message
from chatbot.shop import demo

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>Hi</b> boots?'
SHADOW = "document.querySelector('#parley-chat').shadowRoot"
# Records each length the streaming bubble's text takes, to see the answer grow delta by delta.
WATCH_STREAM = f"""() => {{
  const root = {SHADOW};
  window.__lengths = [];
  new MutationObserver(() => {{
    const bubble = root.querySelector('.msg.bot.streaming');
    if (bubble) window.__lengths.push(bubble.textContent.length);
  }}).observe(root.querySelector('.log'), {{subtree: true, childList: true, characterData: true}});
}}"""


def test_widget_streams_an_answer_and_shows_html_as_text(browser, live_stack, live_demo_store):
    page = browser.new_page()
    page.goto(f"{live_stack.base_url}/")
    expect(page.locator("h1")).to_have_text(demo.NAME)
    page.locator("#parley-chat .launcher").click()
    expect(page.locator("#parley-chat .panel")).to_be_visible()
    page.evaluate(WATCH_STREAM)
    page.locator("#parley-chat textarea").fill(PAYLOAD)
    page.locator("#parley-chat textarea").press("Enter")

    shopper_bubble = page.locator("#parley-chat .msg.shopper")
    expect(shopper_bubble).to_have_text(PAYLOAD)
    expect(shopper_bubble).not_to_have_class("msg shopper sending", timeout=15_000)  # acked
    answer = page.locator("#parley-chat .msg.bot:not(.streaming)")
    expect(answer).to_be_visible(timeout=120_000)

    shown = answer.evaluate("node => node.textContent")
    stored = Message.objects.get(role="bot", conversation__store=live_demo_store)
    assert shown == stored.text and shown.strip()
    assert Message.objects.get(role="shopper", conversation__store=live_demo_store).text == PAYLOAD
    lengths = page.evaluate("window.__lengths")
    assert len({n for n in lengths if n}) >= 2, f"the answer did not appear in pieces: {lengths}"
    # The payload stayed text: no element was created from it and no script ran.
    assert page.evaluate("window.__xss") is None
    assert page.evaluate(f"{SHADOW}.querySelectorAll('.log img, .log script, .log b').length") == 0

    # A returning shopper sees the conversation again (resync from the database).
    page.reload()
    page.locator("#parley-chat .launcher").click()
    expect(page.locator("#parley-chat .msg.shopper")).to_have_text(PAYLOAD)
    expect(page.locator("#parley-chat .msg.bot")).to_have_text(shown)
    page.close()


def test_widget_fills_a_phone_screen(browser, live_stack, live_demo_store):
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_stack.base_url}/")
    page.locator("#parley-chat .launcher").click()
    box = page.locator("#parley-chat .panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(page.locator("#parley-chat textarea")).to_be_in_viewport()
    context.close()


def test_widget_reconnects_and_sends_what_was_typed_while_offline(
    browser, live_stack, live_demo_store
):
    page = browser.new_page()
    page.goto(f"{live_stack.base_url}/")
    page.locator("#parley-chat .launcher").click()
    status = page.locator("#parley-chat .status")
    expect(status).to_have_text("")  # connected
    live_stack.stop_web()
    try:
        expect(status).not_to_have_text("")
        page.locator("#parley-chat textarea").fill("Are you open on Sundays?")
        page.locator("#parley-chat textarea").press("Enter")
        expect(page.locator("#parley-chat .msg.shopper.sending")).to_be_visible()
    finally:
        live_stack.start_web()
    # Backoff retries find the server again; the unacknowledged message is sent and answered.
    expect(page.locator("#parley-chat .msg.shopper")).to_have_class("msg shopper", timeout=60_000)
    expect(page.locator("#parley-chat .msg.bot:not(.streaming)")).to_be_visible(timeout=120_000)
    expect(status).to_have_text("")
    assert Message.objects.filter(role="shopper", conversation__store=live_demo_store).count() == 1
    assert Message.objects.filter(role="bot", conversation__store=live_demo_store).count() == 1
    page.close()
