# The riskmon image: docker-compose.yml runs the workers (`riskmon worker --store`), the console
# (`riskmon console`), the migration and the backup from it; any other subcommand runs too
# (`docker compose run --rm worker-1 riskmon replay ...`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A Chinese font for the charts' titles and labels (reports/charts.py), as `make system` gives
# a desk; without it they fall back to English.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home riskmon \
    && install -d -o riskmon -g riskmon -m 0750 /app

WORKDIR /app
# The runtime dependencies exactly as locked (hashes checked), then riskmon itself without a
# build environment of pip's own: nothing unlocked goes into the image.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
# The packages pyproject.toml installs (tests/unit/metrics/test_compose.py keeps this list whole).
COPY --chown=riskmon:riskmon pyproject.toml README.md ./
COPY --chown=riskmon:riskmon schemas/ schemas/
COPY --chown=riskmon:riskmon detectors/ detectors/
COPY --chown=riskmon:riskmon streams/ streams/
COPY --chown=riskmon:riskmon replay/ replay/
COPY --chown=riskmon:riskmon riskmon/ riskmon/
COPY --chown=riskmon:riskmon simulation/ simulation/
COPY --chown=riskmon:riskmon reports/ reports/
COPY --chown=riskmon:riskmon console/ console/
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf build *.egg-info

# /app (the working folder: the default SQLite store under var/, Faust's data folder) belongs
# to the user the programs run as.
USER riskmon
ENV RISKMON_METRICS_PORT=9108
EXPOSE 9108
CMD ["riskmon", "worker"]
