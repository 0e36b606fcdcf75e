# Nexa's image: gunicorn serves nexa.wsgi (web), `python manage.py qcluster` runs the worker from the same image.
# Settings come from the environment at run time (compose.yaml passes .env); nothing secret is baked in.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=nexa.settings.production \
    WEB_CONCURRENCY=3 \
    STATIC_ROOT=/app/var/static

RUN groupadd --system --gid 10001 nexa \
    && useradd --system --uid 10001 --gid nexa --home-dir /app --no-create-home --shell /usr/sbin/nologin nexa

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them. The project itself is
# not installed: it runs from /app, where BASE_DIR finds templates/ beside the apps.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY manage.py ./
COPY nexa ./nexa
COPY leads ./leads
COPY handoff ./handoff
COPY dashboard ./dashboard
COPY templates ./templates
COPY locale ./locale
COPY deploy/healthcheck.py ./deploy/healthcheck.py

# Production settings refuse to load without a strong key, so collectstatic gets a throwaway one that lives only
# in this RUN's environment. The code stays root-owned; the app user may write only under var/.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
        python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R nexa:nexa /app/var

USER nexa
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["python", "deploy/healthcheck.py"]

# gunicorn reads WEB_CONCURRENCY (its worker processes) and GUNICORN_CMD_ARGS from the environment.
CMD ["gunicorn", "nexa.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
