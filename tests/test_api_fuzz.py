"""The API against its own OpenAPI schema: schemathesis generates requests for every operation.

Every check schemathesis has runs, on data that fits the schema and data
that does not: no 5xx, only documented statuses and bodies, schema-valid
requests accepted (the schema states what the server refuses: NUL
characters, blank and invisible texts, password rules, code formats, page
numbers) and invalid ones refused. A second run chains operations into
scenarios (the stateful phase: send a message, then read it back, and so on).

Each example comes from a logged-in account with a linked chat and runs in a
transaction rolled back after it, so examples do not see each other's
accounts or messages. Two rules a JSON Schema cannot state are applied to
the generated data instead (see `_as_a_client_would_send`).
"""

import pytest
import schemathesis
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, assume, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import User
from conftest import ALICE_CHAT, client_for, link

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
# Bounded: the two runs take about a minute between them.
STATELESS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
STATEFUL = settings(
    max_examples=40,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
# The 400 answers to schema-valid data that only the server's state decides: a code the bot
# never issued (or already used), a password that is not the account's.
STATE_REFUSALS = (
    {"code": ["Invalid, used or expired verification code."]},
    {"verification_code": ["Invalid, used or expired verification code."]},
    {"password": ["Wrong password."]},
)


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """The WSGI app closes the database connection after each request; the test's transaction lives on it.

    Django's own test client unhooks the same signal handler for the same reason.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _limits_out_of_the_way(settings):
    """Every request comes from one address, many with invalid credentials on purpose.

    The limits on failed logins and sign-ups (tested on their own) would soon
    answer 429 to all of them, and nothing past them would be tested.
    """
    for name in (
        "LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS",
        "LOGIN_FAILURES_PER_ADDRESS",
        "LOGIN_FAILURES_PER_USERNAME",
        "SIGNUPS_PER_ADDRESS",
    ):
        setattr(settings, name, 1_000_000)


def _logged_in_with_a_chat() -> dict[str, str]:
    user = User.objects.get(username="alice")
    link(user, ALICE_CHAT)
    return {"Authorization": client_for(user)._credentials["HTTP_AUTHORIZATION"]}


def _as_a_client_would_send(case) -> None:
    """What a JSON Schema cannot say, applied to data meant to be valid.

    `password_repeat` must equal `password` (one property equal to another
    is beyond JSON Schema), and a new password must not be a common one nor
    look like the username (a list of 20,000 words and a similarity measure;
    the schema describes both in words).
    """
    body = case.body
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(body, dict):
        return
    if isinstance(body.get("password"), str) and "password_repeat" in body:
        body["password_repeat"] = body["password"]
    if isinstance(body.get("password"), str) and "username" in body:
        candidate = User(username=str(body.get("username")), name=str(body.get("name", "")))
        try:
            password_validation.validate_password(body["password"], user=candidate)
        except ValidationError as exc:
            assume(not {error.code for error in exc.error_list} <= {"password_too_common", "password_too_similar"})


def valid_request_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance (ST202), but for a refusal only the server's state decides.

    A verification code fits the schema and is still refused unless the bot
    handed it out, as a password is unless it is the account's; any other
    400 means the schema let through a request the server refuses.
    """
    if response.status_code == 400 and response.json() in STATE_REFUSALS:
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = {"excluded_checks": [positive_data_acceptance], "additional_checks": [valid_request_accepted]}


@schema.parametrize()
@STATELESS
def test_every_operation_answers_as_documented(case, tg, alice):
    with transaction.atomic():
        try:
            _as_a_client_would_send(case)
            case.call_and_validate(headers=_logged_in_with_a_chat(), **CHECKS)
        finally:
            transaction.set_rollback(True)


class Scenarios(schema.as_state_machine()):
    """Chains of operations, each scenario in a transaction rolled back after it."""

    def setup(self) -> None:
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.headers = _logged_in_with_a_chat()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def before_call(self, case) -> None:
        _as_a_client_would_send(case)

    def get_call_kwargs(self, case) -> dict:
        return {"headers": self.headers}

    def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
        case.validate_response(
            response,
            additional_checks=[*(additional_checks or []), *CHECKS["additional_checks"]],
            excluded_checks=CHECKS["excluded_checks"],
            # The Authorization header is ours, not generated: auth checks then probe without it.
            headers=kwargs.get("headers"),
            transport_kwargs=kwargs,
        )


def test_scenarios_of_several_operations_answer_as_documented(tg, alice):
    Scenarios.run(settings=STATEFUL)
