# syntax=docker/dockerfile:1
#
# sloguard daemon image: `sloguard run` on port 9464 (/metrics, /healthz, /readyz, API, ingest).
#
#   docker build -t sloguard:0.1.0 .
#   docker run --rm -p 9464:9464 --read-only -v sloguard-data:/var/lib/sloguard sloguard:0.1.0
#   docker run ... sloguard:0.1.0 run --mode exporter --host 0.0.0.0 --data-dir /var/lib/sloguard
#
# Settings come from a mounted file (--config FILE or SLOGUARD_CONFIG) and SLOGUARD_* variables;
# secrets (SLOGUARD_INGEST__TOKEN, SLOGUARD_PROMETHEUS__BEARER_TOKEN, SLOGUARD_SLACK_TOKEN, ...)
# are given at run time (`docker run -e`, a Kubernetes Secret), never baked into the image.
#
# The image runs as uid/gid 10001 and writes only to /var/lib/sloguard (mount a volume there),
# so it works with a read-only root filesystem. Byte code is compiled at build time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: build the sloguard wheel and install it with its dependencies into a venv -------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY sloguard ./sloguard

# The venv lives at the same path in both stages, so its scripts and symlinks stay valid;
# pip compiles the .pyc files here, so the read-only runtime never needs to write them.
# The venv's own pip builds the wheel: the base image needs python and its venv module, no pip.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/sloguard-*.whl \
    && /opt/venv/bin/pip uninstall -y pip \
    && /opt/venv/bin/sloguard --version

# --- runtime: slim Python, the venv, a non-root user, nothing else ---------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="sloguard" \
      org.opencontainers.image.description="Keep multi-agent AI systems inside their SLOs: metrics exporter, SLO evaluator, burn-rate alerts" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

# No pip at run time: the venv's was removed in the builder, the base image's goes here (a
# distribution's packaged pip that pip cannot uninstall stays, with a warning).
RUN if python -m pip --version >/dev/null 2>&1; then \
        PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python -m pip uninstall -y -q pip \
        || echo "warning: the base image's pip could not be removed" >&2; \
    fi \
    && groupadd --gid 10001 sloguard \
    && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin sloguard \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/sloguard

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /var/lib/sloguard
VOLUME ["/var/lib/sloguard"]
EXPOSE 9464

# No curl in slim images: the interpreter probes /healthz. Set SLOGUARD_PORT (not --port) when
# the port changes, so this check follows it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SLOGUARD_PORT', '9464'), timeout=4)"]

ENTRYPOINT ["sloguard"]
CMD ["run", "--host", "0.0.0.0", "--data-dir", "/var/lib/sloguard"]
