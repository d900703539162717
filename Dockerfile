# kraken-global for paper and live trading. Build: docker build -t kraken-global .
# Run with scripts/run-paper.sh or scripts/run-live.sh, which mount the volumes below as folders of the host user
# ($KG_HOME), run the image as that user (--user: a uid the image does not know, HOME /) on a read-only root
# filesystem, and publish the status port on the host's 127.0.0.1. Run as is (uid 10001, `trader`) it needs
# volumes that uid can write (Docker's named volumes are, being copied from the image).
# scripts/docker-smoke.sh builds the image and runs a paper and a live session in it against the emulator.
FROM python:3.11-slim

# MPLCONFIGDIR: matplotlib needs a writable folder whatever uid runs the image (/tmp: a tmpfs under --read-only)
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 MPLCONFIGDIR=/tmp/matplotlib \
    KRAKEN_GLOBAL_KEY_DIR=/data/keys
RUN useradd --create-home --uid 10001 trader
WORKDIR /app
# the dependencies first, from setup.cfg's install_requires under the pins: a layer that an edit of the code or of
# README.md (setup.cfg reads it as the long description) does not invalidate, so a rebuild reinstalls nothing
COPY setup.cfg constraints.txt ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); \
print(c['options']['install_requires'].strip())" > /tmp/requirements.txt \
    && pip install --disable-pip-version-check -c constraints.txt -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY pyproject.toml README.md ./
COPY kraken_global ./kraken_global
# /data itself 0755: any uid reaches the folders mounted on it; unmounted, they are the image user's (0770)
RUN pip install --disable-pip-version-check --no-deps -c constraints.txt . \
    && pip check \
    && mkdir -p /data/artifacts /data/keys /data/locks /data/state /data/logs /data/results /data/candles \
                /data/history \
    && chown -R trader /data && chmod -R 0770 /data && chmod 0755 /data

USER trader
# /data/artifacts: the model registry (approved model, audit log), shared with `kraken-global train/gates/promote`
# /data/keys: the registry's audit key and anchors (KRAKEN_GLOBAL_KEY_DIR), kept apart from the artifacts
# /data/locks: the API key's lock and nonce floor (live.key_lock_dir): they must outlive the container, or a
#   restarted one could send nonces Kraken refuses, and two containers on one key would not see each other
# /data/state: the SQLite trading state (orders, fills, strategy books); keep it: restarts reconcile from it
# /data/logs: session logs;  /data/results: status.json, metrics.json, fills.csv, plan.csv, session.json
# /data/candles: the candle record (live.record_candles): the next session's warm-up and the retraining read it
# /data/history: Kraken OHLCVT exports for the warm-up (data.directory; the run scripts mount it read-only)
VOLUME ["/data/artifacts", "/data/keys", "/data/locks", "/data/state", "/data/logs", "/data/results", \
        "/data/candles", "/data/history"]
# healthy: the session under /data/results runs, reaches the exchange and wrote its status within the last
# 120 s (or 3 poll intervals); the start period covers the warm-up (loading history, replaying it)
HEALTHCHECK --interval=30s --timeout=20s --start-period=5m --retries=3 \
    CMD ["kraken-global", "status", "--check", "--results", "/data/results"]
ENTRYPOINT ["kraken-global"]
CMD ["paper", "--config", "/app/kraken_global/configs/container.yaml"]
