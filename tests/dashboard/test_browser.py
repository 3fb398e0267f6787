"""The dashboard in a real headless Chromium against the running product (web server and reply
worker with the real model): a staff page and a shopper's widget side by side."""

from datetime import timedelta

import pytest
from dashboard_data import conversation
from dashboard_staff import PASSWORD, make_staff
from django.utils import timezone
from playwright.sync_api import expect

from chatbot.conversations.models import Message

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDGET = "#parley-chat"


def log_in(page, base_url, username):
    page.goto(f"{base_url}/dashboard/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)


def test_staff_see_a_shopper_live_take_over_and_answer(
    browser, live_stack, live_demo_store, tmp_path
):
    make_staff("sam", live_demo_store, first_name="Sam")
    desk = browser.new_page()
    log_in(desk, live_stack.base_url, "sam")
    expect(desk.locator("#inbox-empty")).to_be_visible()

    shop = browser.new_page()
    shop.goto(f"{live_stack.base_url}/")
    shop.locator(f"{WIDGET} .launcher").click()
    shop.locator(f"{WIDGET} textarea").fill("Do you sell rain boots?")
    shop.locator(f"{WIDGET} textarea").press("Enter")

    # The inbox shows the new dialogue without a reload.
    row = desk.locator("#inbox tbody tr").filter(has_text="Do you sell rain boots?")
    expect(row).to_be_visible(timeout=15_000)
    expect(shop.locator(f"{WIDGET} .msg.bot:not(.streaming)")).to_be_visible(timeout=120_000)
    expect(desk.locator("#inbox tbody tr .role.bot")).to_be_visible(timeout=15_000)
    desk.screenshot(path=str(tmp_path / "inbox.png"))

    desk.locator("#inbox tbody tr a").first.click()
    reply = Message.objects.get(conversation__store=live_demo_store, role="bot")
    bot_row = desk.locator(f'#messages li.bot[data-id="{reply.pk}"]')
    expect(bot_row.locator(".text")).to_have_text(reply.text)
    expect(bot_row.locator(".usage")).to_contain_text(f"completion{reply.completion_tokens}")
    expect(bot_row.locator(".usage")).to_contain_text("cost")

    desk.click("#take-over")
    expect(desk.locator("#state-badge")).to_have_text("Staff answering")
    expect(shop.locator(f"{WIDGET} .msg.system").last).to_have_text("Sam joined the chat.")

    shop.locator(f"{WIDGET} textarea").fill("Are they waterproof?")
    shop.locator(f"{WIDGET} textarea").press("Enter")
    expect(desk.locator("#messages li.shopper").last).to_contain_text("Are they waterproof?")

    desk.fill("#compose-text", "Yes, fully waterproof. I'm Sam from the shop.")
    desk.click("#compose button[type=submit]")
    staff_bubble = shop.locator(f"{WIDGET} .msg.staff")
    expect(staff_bubble).to_have_text("Yes, fully waterproof. I'm Sam from the shop.")
    # The bot stayed silent while a person was in the conversation.
    shop.wait_for_timeout(2_000)
    expect(shop.locator(f"{WIDGET} .msg.bot")).to_have_count(1)
    assert Message.objects.filter(conversation__store=live_demo_store, role="bot").count() == 1
    desk.screenshot(path=str(tmp_path / "conversation.png"))
    shop.screenshot(path=str(tmp_path / "widget.png"))
    desk.close()
    shop.close()


def test_reports_page_draws_its_charts(browser, live_stack, live_demo_store, tmp_path):
    make_staff("owner", live_demo_store)
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    usage = {"prompt_tokens": 180, "cached_prompt_tokens": 90, "completion_tokens": 40}
    for days_ago, outcome, seconds, csat in [
        (4, "resolved_bot", 2.0, 5),
        (4, "escalated", 3.5, None),
        (3, "resolved_bot", 1.5, 4),
        (2, "abandoned", 0.0, None),
        (2, "resolved_bot", 2.5, 5),
        (1, "resolved_staff", 4.0, 3),
        (0, "resolved_bot", 1.8, 4),
    ]:
        start = today - timedelta(days=days_ago)
        messages = [("shopper", "Question", start)]
        if seconds:
            answer = {**usage, "shared_engine_seconds": seconds, "engine_seconds": seconds}
            messages.append(("bot", "Answer", start + timedelta(seconds=seconds), answer))
        conversation(live_demo_store, messages, created=start, outcome=outcome, csat=csat)

    page = browser.new_page(viewport={"width": 1400, "height": 1700})
    log_in(page, live_stack.base_url, "owner")
    page.goto(f"{live_stack.base_url}/dashboard/reports/")
    expect(page.locator(".tile").first).to_contain_text("Dialogues")
    canvases = page.locator(".charts canvas")
    expect(canvases).to_have_count(7)
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.charts canvas')].map(c => !!Chart.getChart(c))"
    )
    assert drawn == [True] * 7
    shot = tmp_path / "reports.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"reports screenshot: {shot}")
    assert shot.stat().st_size > 20_000
    page.close()
