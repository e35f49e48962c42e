# The riskmon image: docker-compose.yml runs two workers from it (`riskmon worker`); any other
# subcommand runs too (`docker compose run --rm worker-1 riskmon replay ...`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The packages pyproject.toml installs (tests/unit/metrics/test_compose.py keeps this list whole).
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY detectors/ detectors/
COPY streams/ streams/
COPY replay/ replay/
COPY riskmon/ riskmon/
COPY simulation/ simulation/
COPY reports/ reports/
COPY console/ console/
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app riskmon

USER riskmon
ENV RISKMON_METRICS_PORT=9108
EXPOSE 9108
CMD ["riskmon", "worker"]
