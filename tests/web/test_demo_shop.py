"""The demo shop page and the seed command `make run` relies on."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from chatbot.knowledge.models import Article
from chatbot.shop import demo
from chatbot.stores.models import Store


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    store = Store.objects.get(slug=demo.SLUG)
    store.allowed_origins.append("https://extra.example")
    store.save()
    call_command("seed_demo")
    second = capsys.readouterr().out

    assert Store.objects.count() == 1
    again = Store.objects.get(slug=demo.SLUG)
    assert again.widget_key == store.widget_key
    assert again.allowed_origins == [*demo.ORIGINS, "https://extra.example"]
    assert again.hourly_price > 0 and again.system_prompt
    assert Article.objects.filter(store=again).count() == len(demo.ARTICLES)
    admin = get_user_model().objects.get(username=demo.ADMIN_USERNAME)
    assert admin.is_staff and admin.is_superuser
    login = demo.login_file().read_text().strip()
    password = login.split(" / ")[1]
    assert admin.check_password(password)
    assert f"Staff login: {login}" in first and f"Staff login: {login}" in second


@pytest.mark.django_db
def test_home_page_embeds_the_widget_with_one_script_tag(client):
    call_command("seed_demo")
    store = Store.objects.get(slug=demo.SLUG)
    page = client.get("/").content.decode()
    assert page.count("<script") == 1
    assert f'src="/static/parley/widget.js" data-key="{store.widget_key}" async' in page
    assert demo.NAME in page


@pytest.mark.django_db
def test_home_page_without_a_demo_store_says_how_to_create_it(client):
    page = client.get("/").content.decode()
    assert "seed_demo" in page and "<script" not in page
