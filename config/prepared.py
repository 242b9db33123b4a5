"""A queryset turned into SQL once per database connection, then run with new values.

Django builds a query's SQL afresh on every call. For the one query every API
request makes (the token with its account, scope and default destination:
three joins, one of them filtered) building it cost more CPU than running it
and more than the rest of authentication together (docs/benchmarks.md). No
maintained library keeps a compiled ORM query, so this keeps the compiler of
one queryset and makes instances from its rows as Django's ModelIterable
does: the model and each select_related object, with every field's converters.

Only `exact` lookups on placeholders: a placeholder is a value no real one
equals, found in the compiled parameters and replaced on each call, so a
lookup that rewrites its value (iexact, contains) cannot be prepared.
"""

from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql.where import WhereNode


class Placeholder:
    """Where a call's value goes: `str` placeholders for text columns."""

    def __init__(self, name: str) -> None:
        # NUL never occurs in a value PostgreSQL stores, nor in what this is compared with.
        self.value = f"\x00prepared:{name}\x00"


class PreparedQuery:
    """`build(*placeholder values)` gives the queryset; calling this runs it with real values."""

    def __init__(self, build: Callable[..., QuerySet], *placeholders: Placeholder) -> None:
        self._build = build
        self._placeholders = placeholders

    def __call__(self, *values: Any, using: str = "default") -> list[Model]:
        # Kept on the connection (each thread has its own): a compiler and its converters belong to one.
        compiled_here = connections[using].__dict__.setdefault("prepared_queries", {})
        compiled = compiled_here.get(self)
        if compiled is None:
            queryset = self._build(*(placeholder.value for placeholder in self._placeholders))
            compiled = compiled_here[self] = _Compiled(queryset.using(using), self._placeholders)
        return compiled.run(values)


class _Compiled:
    def __init__(self, queryset: QuerySet, placeholders: tuple[Placeholder, ...]) -> None:
        fetch_mode = queryset._fetch_mode
        if fetch_mode.track_peers or queryset._known_related_objects or queryset.query.annotation_select:
            raise ValueError("Only a plain queryset with select_related can be prepared.")
        _check_exact_lookups(queryset.query.where, {placeholder.value for placeholder in placeholders})
        self.alias = queryset.db
        compiler = queryset.query.get_compiler(using=self.alias)
        self.compiler = compiler
        self.sql, params = compiler.as_sql()
        marks = {placeholder.value: index for index, placeholder in enumerate(placeholders)}
        # Each parameter: the index of the call's value it takes, or the fixed value itself.
        self.params = [(marks[param], None) if param in marks else (None, param) for param in params]
        if sorted(index for index, _ in self.params if index is not None) != list(range(len(placeholders))):
            raise ValueError("Each placeholder must appear once, as the value of an exact lookup.")
        select, klass_info = compiler.select, compiler.klass_info
        self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.fetch_mode = fetch_mode
        self.populators = get_related_populators(klass_info, select, self.alias, fetch_mode)

    def run(self, values: tuple) -> list[Model]:
        params = [fixed if index is None else values[index] for index, fixed in self.params]
        with self.compiler.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        found = []
        for row in rows:
            instance = self.model.from_db(
                self.alias, self.init_list, row[self.start : self.end], fetch_mode=self.fetch_mode
            )
            for populator in self.populators:
                populator.populate(row, instance)
            found.append(instance)
        return found


def _check_exact_lookups(where: WhereNode, marks: set[str]) -> None:
    """Each placeholder the value of an `exact` lookup, and of one only.

    Another lookup may turn its value into a pattern or a function of it
    (SQLite's iexact escapes `%` and `_` for LIKE): the call's value would
    go in unchanged, and `a_b` would match `axb`.
    """
    found = []
    nodes = [where]
    while nodes:
        for child in nodes.pop().children:
            if isinstance(child, WhereNode):
                nodes.append(child)
            elif isinstance(getattr(child, "rhs", None), str) and child.rhs in marks:
                if child.lookup_name != "exact":
                    raise ValueError(f"A placeholder must be the value of an exact lookup, not {child.lookup_name}.")
                found.append(child.rhs)
    if sorted(found) != sorted(marks):
        raise ValueError("Each placeholder must appear once, as the value of an exact lookup.")
