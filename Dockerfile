# Paperboy service image. Build: `docker build -t paperboy-bot .`; run with docker compose
# (see README, "Deploy"). Two stages: the first installs Paperboy and its runtime
# dependencies (with the `postgres` extra, without the `dev` tools) into a virtualenv, the
# second copies only that virtualenv onto a clean slim image and runs it as a non-root user.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/paperboy
WORKDIR /src
# Only what the package needs (see .dockerignore); README.md is the package's readme.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN /opt/paperboy/bin/pip install ".[postgres]"

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/paperboy/bin:$PATH \
    PAPERBOY_CONFIG=/app/config/paperboy.yaml \
    PAPERBOY_HEALTH_URL=http://127.0.0.1:8080/healthz
RUN useradd --system --create-home --home-dir /home/paperboy --uid 10001 --user-group paperboy \
    && mkdir -p /app/config /data \
    && chown paperboy:paperboy /data
COPY --from=build /opt/paperboy /opt/paperboy
# The configuration is mounted read-only at /app/config (docker-compose.yml); the SQLite
# archive lives on the volume at /data (`database: /data/paperboy.db`). A fresh named
# volume takes /data's owner from the image, so the non-root user can write it.
WORKDIR /app
VOLUME ["/data"]
USER paperboy
# `paperboy run` serves GET /healthz when the config has `health: {host: 0.0.0.0, port:
# 8080}` (config/paperboy.docker.yaml does): 200 when healthy, 503 otherwise. Slim images
# have no curl; urlopen raises on 503 and on a refused connection, so the exit status is 1.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['PAPERBOY_HEALTH_URL'], timeout=5)"]
# `paperboy run` stops cleanly on SIGTERM (docker stop) and SIGINT.
CMD ["paperboy", "run"]
