"""The widget's socket with a shopper identity: verified customers get their own conversations,
forged identities are refused, and a store can require verification."""

import uuid

import pytest
from channels.testing import WebsocketCommunicator

from chatbot.asgi import application
from chatbot.conversations.models import Conversation
from chatbot.integrations.signing import shopper_signature

ORIGIN = "https://shop.example"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def widget_store(store, integration):
    store.allowed_origins = [ORIGIN]
    store.save()
    return store


async def connect(
    store, shopper: str, **identity
) -> tuple[bool, dict | None, WebsocketCommunicator]:
    query = f"key={store.widget_key}&shopper={shopper}"
    query += "".join(f"&{name}={value}" for name, value in identity.items())
    socket = WebsocketCommunicator(
        application, f"/ws/v1/chat/?{query}", headers=[(b"origin", ORIGIN.encode())]
    )
    connected, _ = await socket.connect(timeout=5)
    hello = await socket.receive_json_from(timeout=5) if connected else None
    return connected, hello, socket


async def start(socket) -> int:
    """The first message, which creates the conversation: its id."""
    await socket.send_json_to({"type": "message", "client_msg_id": "first", "text": "Hello"})
    started = await socket.receive_json_from(timeout=5)
    assert started["type"] == "started"
    return started["conversation"]


async def test_a_signed_customer_gets_a_verified_conversation(widget_store, integration):
    shopper = uuid.uuid4().hex
    signature = shopper_signature(integration.identity_secret, "cust-42")
    ok, _, socket = await connect(
        widget_store, shopper, customer_id="cust-42", customer_signature=signature
    )
    assert ok
    conversation_id = await start(socket)
    await socket.disconnect()
    conversation = await Conversation.objects.aget(pk=conversation_id)
    assert conversation.verified_identity == "cust-42"


async def test_a_forged_identity_is_refused(widget_store):
    forged = shopper_signature("guessed-secret", "cust-42")
    ok, _, _ = await connect(
        widget_store, uuid.uuid4().hex, customer_id="cust-42", customer_signature=forged
    )
    assert not ok
    assert not await Conversation.objects.filter(verified_identity="cust-42").aexists()


async def test_a_store_can_require_verification(widget_store, integration):
    integration.verification_required = True
    await integration.asave()
    ok, _, _ = await connect(widget_store, uuid.uuid4().hex)
    assert not ok


async def test_the_next_user_of_the_browser_never_resumes_a_verified_conversation(
    widget_store, integration
):
    shopper = uuid.uuid4().hex
    signature = shopper_signature(integration.identity_secret, "cust-42")
    _, _, socket = await connect(
        widget_store, shopper, customer_id="cust-42", customer_signature=signature
    )
    verified = {"conversation": await start(socket)}
    await socket.disconnect()
    # Same browser (shopper id), signed out, even asking for that conversation by id:
    query_id = {"conversation": verified["conversation"]}
    ok, anonymous, socket = await connect(widget_store, shopper, **query_id)
    await socket.disconnect()
    assert ok and anonymous["conversation"] is None
    # Signed in again as the same customer: back to their conversation.
    _, again, socket = await connect(
        widget_store, shopper, customer_id="cust-42", customer_signature=signature
    )
    await socket.disconnect()
    assert again["conversation"] == verified["conversation"]
