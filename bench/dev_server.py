"""Concurrent lead posts against the development server (`manage.py runserver`, as `make run` starts it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_dev python bench/dev_server.py --leads 300 --clients 8

runserver answers each request in a thread of its own; a database connection kept per thread (CONN_MAX_AGE)
would outlive it and exhaust PostgreSQL's max_connections under load. This starts runserver on a free port,
posts --leads upserts to POST /api/v1/leads/ from --clients threads (a new connection for each request), and
prints the answers by status, the request rate and the most PostgreSQL connections the server held at once
(sampled every 50 ms). Exits 1 on any 5xx or failed request. The leads it posts have phones of their own.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")

import django

django.setup()

import requests
from django.core.management import call_command
from django.db import connection
from rest_framework_api_key.models import APIKey

from bench.servers import ROOT, free_port


def runserver_start(port: int) -> subprocess.Popen:
    """runserver as `make run` starts it (threaded, autoreloading), once it answers /healthz."""
    environment = {**os.environ, "DJANGO_DEBUG": "true", "DJANGO_RUNSERVER_HIDE_WARNING": "true", "LOG_LEVEL": "ERROR"}
    environment["API_RATE_LIMIT"] = "1000000/minute"
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"]
    server = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("runserver did not start")


def connections_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def leads_post(base: str, key: str, count: int, clients: int) -> Counter:
    statuses: Counter = Counter()
    run = int(time.time()) % 10_000

    def client(indexes):
        for index in indexes:
            lead = {
                "phone": f"+55 11 9{run:04d}{index:04d}",
                "name": f"Lead {index}",
                "interest": "Energia solar residencial",
                "qualification_score": 3,  # below the threshold: the web server alone is measured
            }
            # A connection per request, as curl or an n8n HTTP node makes them: runserver starts a thread for each.
            with requests.Session() as session:
                try:
                    response = session.post(
                        f"{base}/api/v1/leads/", json=lead, headers={"Authorization": f"Bearer {key}"}, timeout=60
                    )
                    statuses[response.status_code] += 1
                except requests.RequestException as error:
                    statuses[type(error).__name__] += 1

    threads = [threading.Thread(target=client, args=(range(i, count, clients),)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database of its own.")
    call_command("migrate", verbosity=0)
    _, key = APIKey.objects.create_key(name="bench dev_server")
    port = free_port()
    server = runserver_start(port)
    peak, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], connections_held())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        statuses = leads_post(f"http://127.0.0.1:{port}", key, options.leads, options.clients)
    finally:
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        os.killpg(server.pid, 15)
        server.wait(timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = cursor.fetchone()[0]
    print(f"runserver, {options.leads} lead posts from {options.clients} clients in {elapsed:.1f} s")
    print(f"answers: {dict(statuses)}  ({options.leads / elapsed:.0f} requests/s)")
    print(f"PostgreSQL connections held at once, at most: {peak[0]} (max_connections {max_connections})")
    if any(not isinstance(status, int) or status >= 500 for status in statuses):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
