"""The prompt for a reply: the store's persona, then as much recent history as the model's context
holds after room for the reply, ending with the messages being answered."""

from collections.abc import Callable, Iterable

from .models import Message

CHAT_ROLE = {
    Message.Role.SHOPPER: "user",
    Message.Role.BOT: "assistant",
    Message.Role.STAFF: "assistant",
}


def default_persona(store_name: str) -> str:
    return (
        f"You are the customer-service assistant of the online store {store_name}. "
        "Answer shoppers briefly, kindly and truthfully."
    )


def turns(messages: Iterable[Message]) -> list[dict]:
    """Chat turns from stored messages; consecutive messages of one side become one turn."""
    out: list[dict] = []
    for message in messages:
        role = CHAT_ROLE.get(message.role)
        if role is None or not message.text.strip():
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"] += "\n\n" + message.text
        else:
            out.append({"role": role, "content": message.text})
    return out


def fit(
    persona: str, history: list[dict], count_tokens: Callable[[list[dict]], int], budget: int
) -> list[dict]:
    """System prompt + the newest turns whose prompt stays within `budget` tokens.

    The last turn (what is being answered) is always kept; if it alone is too long its beginning is
    cut, since the end of a long message is usually the question.
    """
    system = [{"role": "system", "content": persona}]
    if not history:
        return system
    last = dict(history[-1])
    while count_tokens(system + [last]) > budget and len(last["content"]) > 64:
        last["content"] = last["content"][len(last["content"]) // 4 :]
    kept = [last]
    for turn in reversed(history[:-1]):
        if count_tokens(system + [turn] + kept) > budget:
            break
        kept.insert(0, turn)
    # Chat templates expect the dialogue to open with the user.
    while len(kept) > 1 and kept[0]["role"] != "user":
        kept.pop(0)
    return system + kept
