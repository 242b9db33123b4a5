from django.db import models


class Counter(models.Model):
    """One named count over a window (ops/counters.py), used when there is no Redis."""

    name = models.CharField(max_length=200, primary_key=True)
    count = models.IntegerField()
    # Seconds since the epoch: the count starts afresh from then on.
    expires_at = models.FloatField()

    class Meta:
        db_table = "ops_counter"

    def __str__(self) -> str:
        return f"{self.name}: {self.count}"
