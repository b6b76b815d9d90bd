# HomeIQ sidecar: the miner and the OpenVINO models behind a small HTTP API.
# For HA OS / HA Container users (the HA image is Alpine/musl; OpenVINO ships no musl wheels).
#   docker build -t homeiq-sidecar .
#   docker run -d -p 8018:8018 -v homeiq-models:/app/models -e HOMEIQ_SIDECAR_TOKEN=... homeiq-sidecar
FROM python:3.13-slim

# libgomp1: OpenVINO's CPU plugin uses OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The runtime requirements only: no torch, no optimum, no transformers. The file is the one
# that ships with the integration (requirements/runtime.txt includes it); copied before the
# code so that a code change does not reinstall OpenVINO.
COPY custom_components/homeiq/homeiq_sidecar/requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt

COPY custom_components/homeiq/homeiq_miner /app/homeiq_miner
COPY custom_components/homeiq/homeiq_sidecar /app/homeiq_sidecar

RUN useradd --system --uid 1000 --home-dir /app --shell /usr/sbin/nologin homeiq \
    && mkdir -p /app/models \
    && chown homeiq /app/models
USER homeiq

ENV PYTHONPATH=/app \
    PYTHONUNBUFFERED=1
VOLUME ["/app/models"]
EXPOSE 8018

# /health needs no token; urllib because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8018/health', timeout=4).status == 200 else 1)"]

# The token comes from the environment (HOMEIQ_SIDECAR_TOKEN); the sidecar refuses to start without one.
ENTRYPOINT ["python", "-m", "homeiq_sidecar", "--host", "0.0.0.0", "--port", "8018", "--data-dir", "/app/models"]
