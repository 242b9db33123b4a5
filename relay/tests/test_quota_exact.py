"""The per-account quota holds exactly under concurrent posts: the count and the INSERT are one step."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import issue_token
from relay.models import Message
from relay.tests.helpers import MESSAGES_URL

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 60
THREADS = 30
POSTS_EACH = 4


def test_120_concurrent_posts_with_a_limit_of_60_accept_exactly_60(tg, settings, alice, alice_linked):
    settings.MESSAGES_PER_MINUTE = LIMIT
    start = threading.Barrier(THREADS)
    answers: list[tuple[int, dict, str | None]] = []
    errors: list[BaseException] = []

    def poster(number: int) -> None:
        try:
            _, token = issue_token(user=alice)
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            start.wait()
            for index in range(POSTS_EACH):
                response = client.post(MESSAGES_URL, {"text": f"post {number}-{index}"}, format="json")
                answers.append((response.status_code, response.json(), response.get("Retry-After")))
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=poster, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(answers) == THREADS * POSTS_EACH == 120
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [202] * LIMIT + [429] * LIMIT
    assert Message.objects.filter(user=alice).count() == LIMIT
    refused = [(body, retry_after) for status, body, retry_after in answers if status == 429]
    assert all("detail" in body and 1 <= int(retry_after) <= 60 for body, retry_after in refused)
