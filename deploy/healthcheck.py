"""Container health check: GET /healthz on the local gunicorn, with a Host header Nexa accepts."""

import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    # Django answers 400 to a Host outside DJANGO_ALLOWED_HOSTS, so ask for the first name it is configured with.
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 (a fixed local http URL)
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"healthz: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
