#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the persistence tests and print the URL to `eval`:
#
#     eval "$(.ci/postgres.sh)"      # -> export AXION_TEST_PG_URL=postgresql+psycopg://...
#     .ci/postgres.sh stop <datadir> # stop and delete a cluster started earlier
#
# Debian 12. As root: installs `postgresql` with apt-get when missing. Creates a cluster in a
# temporary directory with initdb (as the `postgres` user when root, else as the caller), starts
# it on 127.0.0.1 and a free port (its Unix socket in that directory, not /var/run), and creates a
# database. Everything but the export lines goes to stderr.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/${PG_VERSION}/bin}"
PG_DB="${PG_DB:-axion_ibkr_test}"
PG_USER="${PG_USER:-postgres}"

log() { echo "postgres.sh: $*" >&2; }

# PostgreSQL refuses to run as root: root runs it as the `postgres` user, anyone else as themselves.
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "${PG_USER}" -- "$@"
    else
        "$@"
    fi
}

if [ "${1:-}" = "stop" ]; then
    datadir="${2:?usage: postgres.sh stop DATADIR}"
    as_postgres "${PG_BIN}/pg_ctl" -D "${datadir}" -m immediate stop >&2 || true
    rm -rf "$(dirname "${datadir}")"
    exit 0
fi

if [ ! -x "${PG_BIN}/initdb" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL ${PG_VERSION} is not installed and this is not root: cannot apt-get install it"
        exit 1
    fi
    log "installing postgresql from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    # Debian's package creates and starts a default cluster; it is not used here.
fi

# A free loopback port, chosen by the kernel.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

workdir="$(mktemp -d /tmp/axion-ibkr-pg.XXXXXX)"
datadir="${workdir}/data"
chmod 755 "${workdir}"
if [ "$(id -u)" -eq 0 ]; then
    chown "${PG_USER}" "${workdir}"
fi

log "initdb in ${datadir}"
as_postgres "${PG_BIN}/initdb" -D "${datadir}" -U "${PG_USER}" --auth=trust --encoding=UTF8 --no-locale >&2

# fsync off: the cluster is thrown away; crash tests kill the client process, never the server.
as_postgres "${PG_BIN}/pg_ctl" -D "${datadir}" -l "${workdir}/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${workdir} -c fsync=off -c max_connections=200" \
    start >&2

as_postgres "${PG_BIN}/createdb" -h 127.0.0.1 -p "${port}" -U "${PG_USER}" "${PG_DB}" >&2
log "PostgreSQL ${PG_VERSION} on 127.0.0.1:${port}, data in ${datadir} (stop: .ci/postgres.sh stop ${datadir})"

echo "export AXION_TEST_PG_URL=postgresql+psycopg://${PG_USER}@127.0.0.1:${port}/${PG_DB}"
echo "export AXION_TEST_PG_DATADIR=${datadir}"
