"""Typos and chat shorthand are fixed before a message is embedded; names, codes and addresses
are left as written."""

import pytest

from chatbot.assistant import intents, spelling

# The words the assistant corrects towards: the store's articles and the intent examples.
STORE = frozenset({"shipping", "profile", "warranty", "return", "jacket"}) | intents.VOCABULARY


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("wen is ur live chat open", "when is your live chat open"),
        (
            "can u help w my acct pls, idk wat 2 do",
            "can you help w my account please, I don't know what 2 do",
        ),
        ("do you shpi to Philadelphia?", "do you ship to Philadelphia?"),
        ("how lnog is the warrenty", "how long is the warranty"),
        ("hiya, whats ur email", "hiya, what is your email"),
        # Not shorthand: part of an address, a link, a code or a longer word.
        ("mail info@u.com or see u.s.a/ur-page", "mail info@u.com or see u.s.a/ur-page"),
        (
            "order PW-573104 and ABU-2 were sent to Uruguay",
            "order PW-573104 and ABU-2 were sent to Uruguay",
        ),
    ],
)
def test_typos_and_shorthand_are_written_out(text, fixed):
    assert spelling.correct(text, STORE) == fixed
