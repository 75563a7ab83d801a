# Paperboy service image: slim Python, non-root, database in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install ".[postgres]" && useradd --create-home --uid 10001 paperboy \
    && mkdir -p /data && chown paperboy /data
COPY config ./config
USER paperboy
ENV PAPERBOY_CONFIG=/app/config/paperboy.yaml
VOLUME ["/data"]
CMD ["paperboy", "cycle"]
