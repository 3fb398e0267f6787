"""A shopper's message through the running product: socket, queue, worker, engine, and back."""

import threading
import time

import pytest
from live_chat import LiveChat

from chatbot.conversations.models import Conversation, Message
from chatbot.knowledge.models import Article

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USAGE_FIELDS = [
    "model",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "engine_seconds",
    "shared_engine_seconds",
    "time_to_first_token",
    "finish_reason",
]


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def reply_frames(frames: list[dict], reply_id: str) -> list[dict]:
    return [f for f in frames if f.get("reply_id") == reply_id]


def check_stream(frames: list[dict]) -> dict:
    """Typing, then deltas in seq order whose text is exactly the final text. Returns `done`."""
    done = frames[-1]
    assert done["type"] == "done"
    mine = reply_frames(frames, done["reply_id"])
    assert mine[0]["type"] == "typing"
    deltas = [f for f in mine if f["type"] == "delta"]
    assert deltas, "the reply was not streamed"
    assert [d["seq"] for d in deltas] == list(range(len(deltas)))
    assert "".join(d["text"] for d in deltas) == done["text"]
    assert done["text"].strip()
    return done


def test_a_reply_is_streamed_in_order_and_stored_as_streamed(live_stack, live_store):
    chat = LiveChat(live_stack, live_store)
    client_msg_id = chat.say("Hello! Do you ship to Canada?")
    frames = chat.until_done()
    ack = next(f for f in frames if f["type"] == "ack")
    assert ack["client_msg_id"] == client_msg_id and ack["duplicate"] is False
    done = check_stream(frames)

    bot = Message.objects.get(conversation_id=chat.conversation, role="bot")
    assert bot.text == done["text"]
    assert str(bot.reply_id) == done["reply_id"] and bot.pk == done["message_id"]
    assert {field: getattr(bot, field) for field in USAGE_FIELDS} == {
        field: done["usage"][field] for field in USAGE_FIELDS
    }
    assert bot.model and bot.finish_reason in {"stop", "length"}
    assert 0 < bot.completion_tokens <= 24 and bot.prompt_tokens > 0
    assert 0 < bot.shared_engine_seconds <= bot.engine_seconds
    assert 0 < bot.time_to_first_token
    conversation = Conversation.objects.get(pk=chat.conversation)
    assert conversation.answered_through == ack["message_id"]
    wait_for(lambda: Conversation.objects.get(pk=chat.conversation).reply_lease_token is None)
    chat.close()


# What the shopper asks in the test below, so that the bot answers rather than hands over: a store
# without articles can only hand such questions to a person (README, "What a shopper may read").
BOOTS = """## Rain boots
We sell two rain boots: the Harbor Wellington, a tall boot of natural rubber, and the Pine Chelsea, \
an ankle boot. Both boots are fully waterproof, with sealed seams. They come in EU sizes 36 to 47.
"""


def test_messages_sent_during_a_reply_are_answered_next_in_order(live_stack, live_store):
    Article.objects.create(store=live_store, title="Rain boots", body=BOOTS)
    chat = LiveChat(live_stack, live_store)
    chat.say("What boots do you sell?")
    # Sentences are shown once checked, after the model has written them: the reply is under way
    # from its typing frame on, while its text comes at the end.
    first = chat.until(lambda f: f["type"] == "typing")
    chat.say("Are they waterproof?")
    chat.say("And what sizes?")
    first += chat.until_done()
    state = Conversation.objects.get(pk=chat.conversation).state
    assert state == "bot", f"the first reply handed over: {first[-1]['text']!r}"
    second = chat.until_done()
    assert Conversation.objects.get(pk=chat.conversation).state == "bot", second[-1]["text"]
    first_done = check_stream(first)
    second_done = check_stream(second)
    # One reply at a time: nothing of the second reply arrived before the first was done.
    assert not reply_frames(first, second_done["reply_id"])

    shopper = list(
        Message.objects.filter(conversation_id=chat.conversation, role="shopper").order_by("pk")
    )
    bots = list(Message.objects.filter(conversation_id=chat.conversation, role="bot"))
    assert [b.text for b in bots] == [first_done["text"], second_done["text"]]
    assert bots[0].pk < bots[1].pk and shopper[2].pk < bots[1].pk
    # The second reply's prompt held the whole dialogue: longer than the first's.
    assert bots[1].prompt_tokens > bots[0].prompt_tokens
    assert Conversation.objects.get(pk=chat.conversation).answered_through == shopper[-1].pk
    chat.close()


def test_a_reconnecting_client_gets_the_reply_it_missed(live_stack, live_store):
    chat = LiveChat(live_stack, live_store)
    chat.say("Can I return worn boots?")
    ack = chat.until(lambda f: f["type"] == "ack")[-1]
    chat.close()  # gone before the reply is done
    wait_for(Message.objects.filter(conversation_id=chat.conversation, role="bot").exists)
    again = LiveChat(live_stack, live_store, shopper=chat.shopper, conversation=chat.conversation)
    assert again.conversation == chat.conversation
    again.send({"type": "resume", "last_message_id": ack["message_id"]})
    bot = Message.objects.get(conversation_id=chat.conversation, role="bot")
    frames = again.until(lambda f: f["type"] == "message" and f["message"]["id"] == bot.pk)
    missed = frames[-1]["message"]
    assert (missed["role"], missed["text"]) == ("bot", bot.text)
    # A store with no articles hands most questions over: the hand-over's note may arrive live
    # before the resumed reply. Nothing the client already had is sent again.
    assert all(f["message"]["id"] > ack["message_id"] for f in frames if f["type"] == "message")
    again.close()


QUESTIONS = ["Do you sell hats?", "Is shipping free?"]


def test_two_shoppers_at_once_are_answered_in_one_engine_batch(live_stack, live_store):
    chats = [LiveChat(live_stack, live_store) for _ in range(2)]
    results: dict[int, list[dict]] = {}

    def converse(index: int, chat: LiveChat, question: str):
        chat.say(question)
        results[index] = chat.until_done()

    threads = [
        threading.Thread(target=converse, args=(i, chat, q))
        for i, (chat, q) in enumerate(zip(chats, QUESTIONS, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    dones = [check_stream(results[i]) for i in range(2)]
    for chat, done in zip(chats, dones, strict=True):
        stored = Message.objects.get(conversation_id=chat.conversation, role="bot")
        assert stored.text == done["text"]
        chat.close()
    # Engine steps shared by both replies are billed half to each: sharing shows they were batched.
    usages = [done["usage"] for done in dones]
    assert any(u["shared_engine_seconds"] < 0.9 * u["engine_seconds"] for u in usages), usages
