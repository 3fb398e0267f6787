"""The schema and docs views authenticate like the rest of the API, by key only: a password sent
with HTTP Basic is never checked there, so they cannot serve as an unthrottled
password oracle."""

import base64

import pytest
from api_clients import key_client
from django.contrib.auth import get_user_model
from django.test import Client

DOC_PAGES = ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"]
PASSWORD = "a-long-test-password-9"


@pytest.fixture
def staff(transactional_db):
    return get_user_model().objects.create_user("staff", password=PASSWORD, is_staff=True)


def basic(username: str, password: str) -> Client:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {token}")


@pytest.mark.parametrize("page", DOC_PAGES)
def test_basic_auth_answers_the_same_for_right_and_wrong_passwords(staff, page):
    right = basic(staff.username, PASSWORD).get(page)
    wrong = basic(staff.username, "wrong").get(page)
    assert right.status_code == wrong.status_code == 401
    assert right.content == wrong.content


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_answer_without_credentials_and_with_a_key(store, page):
    assert Client().get(page).status_code == 200
    assert key_client(store, "read").get(page).status_code == 200
    assert Client(HTTP_AUTHORIZATION="Bearer sk_wrong").get(page).status_code == 401
