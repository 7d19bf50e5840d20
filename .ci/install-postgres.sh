#!/usr/bin/env bash
# Installs the PostgreSQL 15 server binaries that internal/pgtest runs, unless
# they are there already. Safe to run any number of times.
#
# The tests start throwaway servers of their own (pgtest), so this script makes
# sure the package's system cluster is not left running: services are kept
# from starting during the install, and any cluster the install created is
# stopped and set to start manually.
set -euo pipefail

# PGTEST_BINDIR (also read by internal/pgtest) points at another install.
BINDIR=${PGTEST_BINDIR:-/usr/lib/postgresql/15/bin}

log() { echo "install-postgres: $*" >&2; }

# as_root runs a command as root: directly, or through sudo when it can run
# without a password prompt.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		log "need root to run: $*"
		exit 1
	fi
}

install_server() {
	log "installing postgresql-15"
	# Keep the package's maintainer scripts from starting the cluster, unless
	# the machine already has such a policy (Docker images do).
	local policy=/usr/sbin/policy-rc.d created_policy=""
	if [ ! -e "$policy" ]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
		created_policy=1
	fi
	local rc=0
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || rc=$?
	if [ "$rc" -eq 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 || rc=$?
	fi
	if [ -n "$created_policy" ]; then
		as_root rm -f "$policy"
	fi
	if [ "$rc" -ne 0 ]; then
		log "apt-get failed (exit $rc)"
		exit "$rc"
	fi
	quiet_system_clusters
}

# quiet_system_clusters stops the clusters the package set up and keeps them
# from starting at boot; the tests never use them.
quiet_system_clusters() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	local ver name
	while read -r ver name _; do
		[ -n "$ver" ] || continue
		log "stopping system cluster $ver/$name and setting it to start manually"
		as_root pg_ctlcluster "$ver" "$name" stop -m fast >/dev/null 2>&1 || true
		if [ -f "/etc/postgresql/$ver/$name/start.conf" ]; then
			as_root sh -c "echo manual > /etc/postgresql/$ver/$name/start.conf"
		fi
	done < <(pg_lsclusters --no-header 2>/dev/null || true)
}

ensure_postgres_user() {
	if id postgres >/dev/null 2>&1; then
		return 0
	fi
	log "creating the postgres OS user"
	as_root useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

if [ -x "$BINDIR/initdb" ] && [ -x "$BINDIR/pg_ctl" ] && [ -x "$BINDIR/postgres" ]; then
	log "PostgreSQL 15 server binaries already installed in $BINDIR"
else
	install_server
fi
ensure_postgres_user

if [ ! -x "$BINDIR/initdb" ]; then
	log "$BINDIR/initdb is still missing after the install"
	exit 1
fi
log "ready: $("$BINDIR/postgres" --version)"
