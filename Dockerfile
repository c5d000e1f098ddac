# syntax=docker/dockerfile:1
# One image definition for HeliosGrid, two targets:
#   app     (default) producer, consumer, API and the one-shot `heliosgrid db migrate`
#   airflow the official Apache Airflow 3 image plus the heliosgrid library, for the DAGs
# Both install exactly the pinned versions in requirements/constraints.txt.
# Configuration is only through HELIOS_* environment variables (see heliosgrid/settings.py).

ARG PYTHON_VERSION=3.11
ARG AIRFLOW_VERSION=3.3.2

# ---------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
COPY pyproject.toml README.md ./
COPY heliosgrid heliosgrid
COPY producer producer
COPY consumer consumer
# all dependencies (and a first copy of the package, replaced by the editable install below)
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c requirements/constraints.txt .

# ---------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS app
LABEL org.opencontainers.image.title="heliosgrid" \
      org.opencontainers.image.description="HeliosGrid producer, consumer, API and migrations"
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin helios
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The library reads repository files next to the package (db/migrations, contracts/, the API's
# static files), so the source tree is kept at /app and the package installed editable from it
# (dependencies are already in the venv from the build stage).
COPY . /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HELIOS_DATA_DIR=/app/data \
    HELIOS_API_HOST=0.0.0.0
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e /app \
 && mkdir -p /app/data && chown helios /app/data
USER helios
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["heliosgrid", "--help"]

# ---------------------------------------------------------------------------------------------
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
USER root
COPY --chown=airflow:0 . /opt/heliosgrid
USER airflow
# Editable for the same reason as the app image (repository files next to the package);
# apache-airflow is pinned to the image's own version in the constraints, so pip keeps it.
RUN pip install --no-cache-dir -c /opt/heliosgrid/requirements/constraints.txt -e /opt/heliosgrid
