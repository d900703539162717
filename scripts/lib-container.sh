# Sourced by scripts/run-paper.sh and scripts/run-live.sh: how a session runs in the image (not a command).
#
# Environment (all optional):
#   KG_HOME         the host folder of the mounted volumes (default ./kg-data): artifacts/ keys/ locks/ state/
#                   logs/ results/ candles/ history/, created mode 0700 for the user running the script
#   KG_HISTORY      a folder of Kraken OHLCVT exports for the warm-up, mounted read-only (default $KG_HOME/history)
#   KG_STATUS_PORT  the host port of the session's read-only status (default 8790 paper, 8791 live; off: none)
#   KG_NETWORK      a Docker network; `host` shares the host's (the status is then on the host's 127.0.0.1 directly)
#   KG_USER         uid:gid the session runs as (default yours, so the files it writes are yours)
#   KG_NAME         the container's name (default kraken-global-paper / kraken-global-live)
#   KG_IMAGE        the image (default kraken-global)
# Hardening: a read-only root filesystem (everything is written under /data, temporary files in a /tmp tmpfs),
# --init (SIGTERM from `docker stop` reaches the session, which ends cleanly: exit 0, results written).

kg_refuse() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

kg_absolute() {  # a path made absolute against the current folder (Docker takes a relative one as a volume name)
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}

# kg_run MODE DEFAULT_STATUS_PORT [docker options ...] -- [kraken-global options ...]
kg_run() {
  local mode=$1 default_port=$2
  shift 2
  local docker_options=()
  while [[ $# -gt 0 && $1 != "--" ]]; do docker_options+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  local home history folder
  home=$(kg_absolute "${KG_HOME:-kg-data}")
  history=$(kg_absolute "${KG_HISTORY:-$home/history}")
  # the folders belong to the user running this script, and so does the container's process (--user): it can
  # write them, and the files it writes stay readable on the host; 0700: nobody else's business
  mkdir -p -m 0700 "$home"/{artifacts,keys,locks,state,logs,results,candles}
  [[ -n "${KG_HISTORY:-}" ]] || mkdir -p -m 0700 "$history"
  [[ -d "$history" ]] || kg_refuse "KG_HISTORY=$KG_HISTORY is not a folder ($history)"
  local mounts=()
  for folder in artifacts keys locks state logs results candles; do
    mounts+=(--mount "type=bind,src=$home/$folder,dst=/data/$folder")
  done
  mounts+=(--mount "type=bind,src=$history,dst=/data/history,readonly")
  local network=() publish=() status=() port=${KG_STATUS_PORT:-$default_port}
  [[ -n "${KG_NETWORK:-}" ]] && network=(--network "$KG_NETWORK")
  if [[ $port != off ]]; then
    [[ $port =~ ^[0-9]+$ ]] && (( port >= 1024 && port <= 65535 )) \
      || kg_refuse "KG_STATUS_PORT=$port is not a port from 1024 to 65535 (or off)"
    case "${KG_NETWORK:-}" in
      # the container's 127.0.0.1 is the host's (or the other container's): the session binds it as it does anywhere
      host | container:*) status=(--status-port "$port") ;;
      # its own 127.0.0.1 cannot be published: it listens on the container's interface, which Docker publishes on
      # the host's 127.0.0.1 only (not the host's other addresses)
      *) publish=(--publish "127.0.0.1:$port:$port")
         status=(--status-port "$port" --status-host 0.0.0.0) ;;
    esac
  fi
  exec docker run --rm --init --read-only --tmpfs /tmp --user "${KG_USER:-$(id -u):$(id -g)}" \
    --name "${KG_NAME:-kraken-global-$mode}" ${network[@]+"${network[@]}"} ${publish[@]+"${publish[@]}"} \
    "${mounts[@]}" ${docker_options[@]+"${docker_options[@]}"} "${KG_IMAGE:-kraken-global}" \
    "$mode" --config /app/kraken_global/configs/container.yaml ${status[@]+"${status[@]}"} "$@"
}
