# LLM Ledger's Airflow image: the exact versions of requirements.lock (the same lock `make
# install` uses), the llmledger package installed editable from /opt/llmledger/project (so the
# compose deployment's bind mounts of plugins/, dags/, dbt/ and sql/ are what runs), a non-root
# user, and nothing that phones home. No secret is baked in: credentials come from the
# environment at run time (docker-compose.yaml reads them from .env).
#
#   docker build -t llmledger-airflow .        (docker compose build does this)

# The lock is compiled for Python 3.11 (`uv pip compile ... --python-version 3.11`).
FROM python:3.11-slim-bookworm

# Same uv as the Makefile, so image and .venv resolve the lock identically.
ARG UV_VERSION=0.13.8
# The official Airflow image's uid; group 0 so an arbitrary uid (OpenShift) can still write.
ARG AIRFLOW_UID=50000

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    AIRFLOW_HOME=/opt/airflow \
    LLMLEDGER_HOME=/opt/llmledger/home \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/llmledger/project/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DO_NOT_TRACK=1 \
    SCARF_ANALYTICS=false \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    DBT_VERSION_CHECK=False \
    GX_ANALYTICS_ENABLED=False

RUN useradd --uid "${AIRFLOW_UID}" --gid 0 --create-home --home-dir /home/airflow airflow \
    && mkdir -p /opt/airflow/logs /opt/airflow/auth /opt/llmledger/home /opt/llmledger/project \
    && chown -R "${AIRFLOW_UID}:0" /opt/airflow /opt/llmledger \
    && chmod -R g+rwX /opt/airflow /opt/llmledger

WORKDIR /opt/llmledger/project

# Dependencies first (their own layer: rebuilt only when a lock file changes).
# --compile-bytecode: uv writes no .pyc by default and PYTHONDONTWRITEBYTECODE (above) stops
# Python writing them, so without it every task would compile Airflow, dbt and GX from source.
COPY requirements.lock requirements-deploy.lock ./
RUN python -m pip install --quiet "uv==${UV_VERSION}" \
    && uv pip install --system --no-cache --compile-bytecode \
        -r requirements.lock -r requirements-deploy.lock

# Then the project, installed exactly as `make install` does: no dependency resolution
# (--no-deps: everything came from the lock), editable so the compose bind mounts take effect.
COPY pyproject.toml README.md ./
COPY plugins ./plugins
COPY dags ./dags
COPY dbt ./dbt
COPY sql ./sql
RUN uv pip install --system --no-cache --no-deps -e . \
    && chown -R "${AIRFLOW_UID}:0" /opt/llmledger/project

USER ${AIRFLOW_UID}
EXPOSE 8080
ENTRYPOINT ["airflow"]
CMD ["version"]
