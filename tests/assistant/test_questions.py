"""Splitting a message into the questions it asks."""

import pytest

from chatbot.assistant import questions


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "Do you ship to Canada, and how much does express shipping cost?",
            ["Do you ship to Canada", "how much does express shipping cost?"],
        ),
        (
            "How long do I have to return something? And how do I reset my password?",
            ["How long do I have to return something?", "how do I reset my password?"],
        ),
        # A label asks nothing either.
        (
            "Quick question: do you ship to Norway, and can I pay with PayPal?",
            ["do you ship to Norway", "can I pay with PayPal?"],
        ),
        (
            "A couple of things from Galway: what does next-day delivery cost, and do you take "
            "Apple Pay?",
            ["what does next-day delivery cost", "do you take Apple Pay?"],
        ),
        # A greeting asks nothing: the question after it is the first of the message.
        (
            "hiya, what is your email for help and how fast do you reply??",
            ["what is your email for help", "how fast do you reply??"],
        ),
        (
            "Can I pay with PayPal? Also, is there a cancellation fee?",
            ["Can I pay with PayPal?", "is there a cancellation fee?"],
        ),
        (
            "What time do you open on Saturday? how much do I need to spend for free delivery?",
            [
                "What time do you open on Saturday?",
                "how much do I need to spend for free delivery?",
            ],
        ),
        # A short piece that points back but names a topic of its own asks its own question.
        (
            "how much is shipping and can you gift wrap it?",
            ["how much is shipping", "can you gift wrap it?"],
        ),
    ],
)
def test_several_questions_are_split(text, parts):
    assert questions.split(text) == parts


@pytest.mark.parametrize(
    "text",
    [
        "hi, what are the rules for returns?",
        "I bought a jacket and it is too small, can I return it?",
        "wher is my ordr #10452",
        "I want to return and exchange it",
        # A statement is context for the question beside it, not a question of its own.
        "I bought two pairs of gloves and wore one. Can I return the other pair?",
        "can i return a tent ive slept in once? its too small",
        "Do I pay for the return label? I live in Ohio",
        # A short piece that points back and names no topic is the same question.
        "Can you deliver to Hawaii and what does it cost?",
        "and you? how long is shipping",
        # A piece that names no topic of its own asks about the one before it.
        "do u do free shiping? how much do i need to spend",
        "Do you repair grinders? how much does it cost and how long does it take",
        "forgot my password and the reset link has expired?? how long does it last",
        # A wish said before a question that points back at it is that question's setting.
        "I need a new sofa but would rather spread the cost. Can I pay for it in instalments?",
    ],
)
def test_one_question_stays_whole(text):
    assert questions.split(text) == [text]
