"""Splitting Markdown articles into passages: one per section, long sections cut at boundaries."""

from chatbot.knowledge.passages import (
    blocks,
    joined_leads,
    sections,
    sentences,
    split_article,
    split_text,
)

ARTICLE = """# Returns

You can return a bike within 45 days.

## Starting a return
Open My Account > Purchases.

### Packing
Use the original box.
"""


def test_sections_follow_headings_and_file_the_intro_under_the_title():
    found = sections("Returns", ARTICLE)
    assert [(s.heading, s.text) for s in found] == [
        ("Returns", "You can return a bike within 45 days."),
        ("Starting a return", "Open My Account > Purchases."),
        ("Packing", "Use the original box."),
    ]


def test_a_leading_title_heading_is_not_a_section_and_empty_sections_are_dropped():
    found = sections("Shipping", "# Shipping\n## Costs\n\n## Times\nTwo days.")
    assert [(s.heading, s.text) for s in found] == [("Times", "Two days.")]


def test_long_sections_are_cut_at_paragraphs_then_sentences_within_the_limit():
    paragraph = " ".join(f"Sentence number {i} is here." for i in range(30))
    chunks = split_text(paragraph + "\n\nShort closing paragraph.", limit=200)
    assert all(len(c) <= 200 for c in chunks)
    assert chunks[0].startswith("Sentence number 0 is here.")
    assert all(c.rstrip().endswith(".") for c in chunks)  # never cut inside a sentence
    assert " ".join(chunks).count("Sentence number") == 30


def test_split_article_repeats_the_heading_on_every_part_of_a_long_section():
    body = "## Big\n" + " ".join(f"Fact {i} matters a lot." for i in range(80))
    parts = split_article("Guide", body, limit=300)
    assert len(parts) > 2 and {p.heading for p in parts} == {"Big"}


def test_sentences_split_list_items_and_sentences():
    text = "- Standard: 3–5 days, $5.\n- Express: 1 day.\nOrders ship daily. We use UPS."
    assert sentences(text) == [
        "Standard: 3–5 days, $5.",
        "Express: 1 day.",
        "Orders ship daily.",
        "We use UPS.",
    ]


def test_a_list_item_keeps_the_sentence_that_leads_into_its_list():
    text = (
        "Machines carry a 2-year warranty. The warranty does not cover:\n"
        "- limescale damage,\n"
        "- machines used in a café.\n"
        "Claims go to the workshop."
    )
    assert sentences(text) == [
        "Machines carry a 2-year warranty.",
        "The warranty does not cover: limescale damage.",
        "The warranty does not cover: machines used in a café.",
        "Claims go to the workshop.",
    ]


def test_a_lead_in_with_no_list_stays_and_markdown_emphasis_reads_as_plain_text():
    text = (
        "Reach us:\n\nOr else:\n- **Phone**: +353 91 555 0187.\n- `hello@shop.ie`\n\n- plain item"
    )
    assert sentences(text) == [
        "Reach us:",
        "Or else: Phone: +353 91 555 0187.",
        "Or else: hello@shop.ie",
        "Or else: plain item",
    ]


def test_a_full_stop_after_an_abbreviation_ends_no_sentence():
    text = "We ship from Oranmore, Co. Galway. Ask Mr. Byrne for a quote. Then pay."
    assert sentences(text) == [
        "We ship from Oranmore, Co. Galway.",
        "Ask Mr. Byrne for a quote.",
        "Then pay.",
    ]


def test_a_list_without_a_lead_in_is_one_block_and_every_other_sentence_its_own():
    text = (
        "We ship from Galway.\n"
        "- Ireland: €4.95. Free over €75.\n"
        "- UK: €12.\n"
        "Times count from dispatch. It does not cover:\n"
        "- islands,\n"
        "- lighthouses."
    )
    assert blocks(text) == [
        ["We ship from Galway."],
        ["Ireland: €4.95.", "Free over €75.", "UK: €12."],
        ["Times count from dispatch."],
        ["It does not cover: islands."],
        ["It does not cover: lighthouses."],
    ]
    assert [s for block in blocks(text) for s in block] == sentences(text)


def test_a_markdown_table_reads_row_by_row_as_one_block_without_its_header_and_rule():
    text = (
        "Rates by country:\n\n"
        "| Destination | Carrier | Price | Delivery time | What we include |\n"
        "|:---|---|--:|---|---|\n"
        "| **Germany** | DHL | €8.95 | 2-4 working days | tracking |\n"
        "| Austria | | €12.50 | 3-6 working days | |\n"
        "\nFree over €60."
    )
    assert blocks(text) == [
        ["Rates by country:"],
        [
            "Germany: carrier DHL, price €8.95, delivery time 2-4 working days, "
            "what we include: tracking.",
            "Austria: price €12.50, delivery time 3-6 working days.",
        ],
        ["Free over €60."],
    ]
    assert not any("|" in s or "---" in s for s in sentences(text))


def test_a_column_named_after_a_day_keeps_its_capital_in_the_row_sentence():
    text = "| Channel | Monday to Friday | Saturday |\n|---|---|---|\n| Phone | 9:00 | 10:00 |\n"
    assert sentences(text) == ["Phone: Monday to Friday: 9:00, Saturday 10:00."]


def test_a_table_cell_of_several_sentences_stays_one_clause_of_its_row():
    """Split into sentences, "After that, contact us." would be quoted without the row it
    belongs to; and a cell's full stop before the next column read "payment., changing"."""
    text = (
        "| Status | What it means | Changing or cancelling |\n"
        "|---|---|---|\n"
        "| Received | We've got your payment. | Use **Edit order** for 2 hours. After that, call us. |\n"
    )
    assert sentences(text) == [
        "Received: what it means: We've got your payment, changing or cancelling: "
        "Use Edit order for 2 hours; After that, call us."
    ]


def test_a_sentence_may_open_with_a_price_and_a_bare_yes_stays_with_its_sentence():
    text = "Plans depend on the price. $150 to $499: $54.99. Yes. We cover drops. No! Never."
    assert sentences(text) == [
        "Plans depend on the price.",
        "$150 to $499: $54.99.",
        "Yes. We cover drops.",
        "No! Never.",
    ]
    assert sentences("- iDEAL.\n- PayPal.") == ["iDEAL.", "PayPal."]  # one-word items stay items


def test_a_question_the_article_asks_stays_with_its_answer():
    text = (
        "We e-mail you the tracking code. Ordered as a guest? Enter your order number at "
        "example.nl/status. Lost it? Ask us."
    )
    assert sentences(text) == [
        "We e-mail you the tracking code.",
        "Ordered as a guest? Enter your order number at example.nl/status.",
        "Lost it? Ask us.",
    ]


def test_items_of_one_list_quoted_together_are_said_once_with_their_lead_in():
    text = (
        "You can:\n"
        "- ask your vet to e-mail the prescription to rx@paws.example, or\n"
        "- post the paper prescription to: Unit 9, Leeds.\n"
        "Autoship gives you:\n- 25% off your first order;\n- double points.\n"
        "Germany: price €8.95. France: price €9.95."
    )
    said = sentences(text)
    assert said[0] == "You can: ask your vet to e-mail the prescription to rx@paws.example."
    assert joined_leads(said) == [
        "You can: ask your vet to e-mail the prescription to rx@paws.example; "
        "post the paper prescription to: Unit 9, Leeds.",
        "Autoship gives you: 25% off your first order; double points.",
        "Germany: price €8.95.",  # sentences that merely open alike stay apart
        "France: price €9.95.",
    ]
    assert joined_leads([said[0], "Claims go to the workshop.", said[1]])[1:] == [
        "Claims go to the workshop.",
        said[1],
    ]
