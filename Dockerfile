# kraken-global for paper and live trading. Build: docker build -t kraken-global .
# Run with scripts/run-paper.sh or scripts/run-live.sh, which mount the volumes below as folders of the host user
# and run the image as that user (--user), so every file the bot writes is the host user's; run as is (uid 10001,
# `trader`) it needs volumes that uid can write (Docker's named volumes are, being copied from the image).
# scripts/docker-smoke.sh builds the image and runs a paper session in it against the emulator, then stops it.
FROM python:3.11-slim

# MPLCONFIGDIR: matplotlib needs a writable folder whatever uid runs the image (the scripts pass the host's)
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MPLCONFIGDIR=/tmp/matplotlib \
    KRAKEN_GLOBAL_KEY_DIR=/data/keys
RUN useradd --create-home --uid 10001 trader
WORKDIR /app
COPY setup.cfg pyproject.toml constraints.txt README.md ./
COPY kraken_global ./kraken_global
RUN pip install --disable-pip-version-check -c constraints.txt . \
    && mkdir -p /data/artifacts /data/keys /data/state /data/logs /data/results /data/candles \
    && chown -R trader /data && chmod -R 0770 /data

USER trader
# /data/artifacts: the model registry (approved model, audit log), shared with `kraken-global train/gates/promote`
# /data/keys: the registry's audit key and anchors (KRAKEN_GLOBAL_KEY_DIR), kept apart from the artifacts
# /data/state: the SQLite trading state (orders, fills, strategy books); keep it: restarts reconcile from it
# /data/logs: session logs;  /data/results: metrics.json, fills.csv, plan.csv, session.json per session
# /data/candles: the candle record (live.record_candles): the next session's warm-up and the retraining read it
VOLUME ["/data/artifacts", "/data/keys", "/data/state", "/data/logs", "/data/results", "/data/candles"]
ENTRYPOINT ["kraken-global"]
CMD ["paper", "--config", "/app/kraken_global/configs/container.yaml"]
