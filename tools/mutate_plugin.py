"""A pytest plugin for tools/mutate.py's runs: each one starts on an empty test database.

mutmut runs the tests of each mutant in a fork of one process, and the test
database is kept between them (--reuse-db) rather than migrated again each
time. A run stopped for taking too long can leave the rows of a test that
commits (transaction=True) behind; they are deleted before the next run's
tests see them.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _start_on_an_empty_database(django_db_setup, django_db_blocker) -> None:
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)
