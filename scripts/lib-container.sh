# Sourced by scripts/run-paper.sh and scripts/run-live.sh: how a session runs in the image (not a command).
#
# Environment (all optional):
#   KG_HOME         the host folder of the mounted volumes (default ./kg-data): artifacts/ keys/ locks/ state/
#                   logs/ results/ candles/ history/, created mode 0700 for the user running the script
#   KG_HISTORY      a folder of Kraken OHLCVT exports for the warm-up, mounted read-only (default $KG_HOME/history)
#   KG_STATUS_PORT  the host port of the session's read-only status (default 8790 paper, 8791 live; off: none)
#   KG_DASHBOARD_PORT   the host port of the session's web page (default: off)
#   KG_DASHBOARD_TOKEN  its control token, passed by name (needed for the page unless KG_NETWORK=host)
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
  local network=() publish=() servers=() shared=""
  if [[ -n "${KG_NETWORK:-}" ]]; then
    network=(--network "$KG_NETWORK")
    # the container's 127.0.0.1 is the host's (or the other container's): the session binds it as anywhere
    [[ $KG_NETWORK == host || $KG_NETWORK == container:* ]] && shared=yes
  fi
  local port=${KG_STATUS_PORT:-$default_port}
  if [[ $port != off ]]; then
    kg_port KG_STATUS_PORT "$port" "(or off)"
    servers+=(--status-port "$port")
    # its own 127.0.0.1 cannot be published: the server listens on the container's interface, which Docker
    # publishes on the host's 127.0.0.1 only (not the host's other addresses)
    [[ -n $shared ]] || { publish+=(--publish "127.0.0.1:$port:$port"); servers+=(--status-host 0.0.0.0); }
  fi
  if [[ -n "${KG_DASHBOARD_PORT:-}" ]]; then
    kg_port KG_DASHBOARD_PORT "$KG_DASHBOARD_PORT"
    servers+=(--dashboard "$KG_DASHBOARD_PORT")
    if [[ -z $shared ]]; then
      [[ -n "${KG_DASHBOARD_TOKEN:-}" ]] || kg_refuse "the dashboard listens on the container's interface, which" \
        "a session allows only with a control token: set KG_DASHBOARD_TOKEN (16 characters or more), or" \
        "KG_NETWORK=host"
      publish+=(--publish "127.0.0.1:$KG_DASHBOARD_PORT:$KG_DASHBOARD_PORT")
      servers+=(--dashboard-host 0.0.0.0)
    fi
  fi
  [[ -n "${KG_DASHBOARD_TOKEN:-}" ]] && docker_options+=(--env KG_DASHBOARD_TOKEN)
  [[ -n "${KG_USER:-}" || $(id -u) != 0 ]] \
    || echo "$(basename "$0"): the container runs as root (you are root): set KG_USER=uid:gid to run it as a user" >&2
  exec docker run --rm --init --read-only --tmpfs /tmp --user "${KG_USER:-$(id -u):$(id -g)}" \
    --name "${KG_NAME:-kraken-global-$mode}" ${network[@]+"${network[@]}"} ${publish[@]+"${publish[@]}"} \
    "${mounts[@]}" ${docker_options[@]+"${docker_options[@]}"} "${KG_IMAGE:-kraken-global}" \
    "$mode" --config /app/kraken_global/configs/container.yaml ${servers[@]+"${servers[@]}"} "$@"
}

kg_port() {  # kg_port NAME VALUE [HINT]: refuse a value that is not an unprivileged port
  [[ $2 =~ ^[0-9]{1,5}$ ]] && (( 10#$2 >= 1024 && 10#$2 <= 65535 )) \
    || kg_refuse "$1=$2 is not a port from 1024 to 65535${3:+ $3}"
}
