"""Retrieval finds the article that answers a paraphrased question, with the real MiniLM model."""

import pytest

from chatbot.knowledge import embeddings, retrieval
from chatbot.knowledge.retrieval import Entry, HybridIndex

PARAPHRASES = [
    ("how many days do I have to send a bicycle back?", "Returns"),
    ("when will the money be back on my credit card?", "Returns"),
    ("how long until my new bike arrives at my house?", "Shipping"),
    ("do you send orders to France?", "Shipping"),
    ("my frame has a crack, is that covered?", "Warranty"),
    ("can I give my brother a voucher as a present?", "Gift cards"),
    ("I'd like an expert to adjust my saddle and handlebar position", "Bike fitting"),
]


@pytest.mark.parametrize(("question", "article"), PARAPHRASES)
def test_the_right_article_is_found_for_a_paraphrased_question(bike_shop, question, article):
    hits = retrieval.store_index(bike_shop.pk).search(question, k=3)
    assert hits[0].entry.article_title == article, [h.entry.label for h in hits]


def test_hits_are_ranked_and_cite_article_and_section(bike_shop):
    hits = retrieval.store_index(bike_shop.pk).search("how long does a refund take?", k=5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].entry.label == "Returns › Refund timing"


def test_keywords_lift_the_passage_that_names_the_exact_term():
    entries = [
        Entry(1, 1, "Payments", "Cards", "We accept Visa and Mastercard."),
        Entry(2, 1, "Payments", "Wallets", "We accept PayPal and Klarna."),
    ]
    index = HybridIndex.build(entries)
    assert index.search("klarna", k=1)[0].entry.heading == "Wallets"


def test_e_mail_and_email_are_one_keyword():
    from chatbot.knowledge.keywords import terms

    assert terms("E-mail us at hello@shop.example") == terms("email us at hello@shop.example")


def test_vectors_survive_the_database_round_trip():
    vectors = embeddings.encode(["one", "two"])
    again = embeddings.from_bytes([embeddings.to_bytes(v) for v in vectors])
    assert again.dtype.name == "float32" and (again == vectors).all()
    assert abs(float((vectors**2).sum(axis=1)[0]) - 1.0) < 1e-5


def test_two_words_of_the_question_in_a_row_lift_the_passage_that_holds_them(monkeypatch):
    entries = [
        Entry(1, 1, "Workshop", "Prices", "Basic service €79. Full service €129."),
        Entry(2, 1, "Workshop", "Booking", "Book a service online; we check the full bike."),
    ]
    index = HybridIndex.build(entries)
    with_phrase = {h.entry.passage_id: h for h in index.search("how much is a full service?", 2)}
    monkeypatch.setattr(retrieval, "PHRASE_BONUS", 0.0)
    without = {h.entry.passage_id: h for h in index.search("how much is a full service?", 2)}
    lift = {i: with_phrase[i].score - without[i].score for i in (1, 2)}
    assert abs(lift[1] - 0.05) < 1e-6 and abs(lift[2]) < 1e-6  # "full service" is only in 1
    assert with_phrase[1].relevance == without[1].relevance  # a rank, not a sign it answers
