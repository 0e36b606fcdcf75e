"""Shared by the page benchmarks: a logged-in staff client and timed GETs through the whole Django stack."""

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client


def staff_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def timings(client: Client, path: str, rounds: int) -> list[float]:
    for _ in range(3):
        assert client.get(path).status_code == 200, path
    result = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(path)
        result.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, path
    return result


def analyze(*tables: str) -> None:
    """Fresh planner statistics and visibility maps after a bulk load, as autovacuum would leave them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")


def report(client: Client, pages: dict[str, str], rounds: int) -> None:
    """Median and p95 per page; the first page is the baseline the others are compared with."""
    print(f"{'page':44} {'median ms':>10} {'p95 ms':>8} {'× baseline':>11}")
    baseline = None
    for label, path in pages.items():
        samples = sorted(timings(client, path, rounds))
        median = statistics.median(samples)
        p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
        baseline = baseline or median
        print(f"{label:44} {median:10.1f} {p95:8.1f} {median / baseline:10.2f}×")
