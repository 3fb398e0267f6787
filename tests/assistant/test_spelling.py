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
        ("can i pause my sub while im away", "can i pause my subscription while im away"),
        ("wats ur phone numbr n r u open", "what is your phone number and are you open"),
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


@pytest.mark.parametrize(
    "text",
    [
        "Olá, como faço para cancelar a minha assinatura de café? Tem alguma multa?",
        "Hallo, ich habe vor zwei Wochen eine Kaffeemühle bei Ihnen gekauft und möchte sie zurückgeben.",
        "¿Puedo devolver un artículo sin recibo?",
        "笔记本电脑拆封后还能退货吗？",
    ],
)
def test_messages_in_other_languages_are_told_apart(text):
    assert spelling.other_language(text, spelling.correct(text, STORE), STORE)


@pytest.mark.parametrize(
    "text",
    [
        "how lnog do i hav to retrun a jaket",  # typos, corrected to the store's words
        "i exoect a damn restitution of 299 dollars",
        "wat paymnet methds do u acept",
        "Is the Copperline 24cm copper sauté pan dishwasher safe?",  # a name and an accent
        "fogrot my pasword hlep",  # too short to tell: English is assumed
    ],
)
def test_english_with_typos_names_and_accents_is_english(text):
    assert not spelling.other_language(text, spelling.correct(text, STORE), STORE)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (
            "got it dec 10 for xmas, til when can I return it?",
            "got it December 10 for Christmas, until when can I return it?",
        ),
        ("it came on 3rd Jan.", "it came on 3rd January."),
        ("delivered 14 sept", "delivered 14 September"),
        # Not a date: a word that only looks like a month.
        ("will it mar the finish?", "will it mar the finish?"),
    ],
)
def test_months_cut_short_beside_a_day_are_written_out(written, read):
    assert spelling.written_out(written) == read
