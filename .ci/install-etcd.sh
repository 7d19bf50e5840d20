#!/usr/bin/env bash
# Installs the etcd server that internal/etcdtest runs (Debian's etcd-server,
# 3.4 on bookworm), unless an etcd binary is there already. Safe to run any
# number of times. The tests start throwaway clusters of their own, so the
# package's system service is kept from starting and stopped if it did.
set -euo pipefail

log() { echo "install-etcd: $*" >&2; }

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

BIN=${ETCDTEST_BIN:-$(command -v etcd || true)}
if [ -n "$BIN" ] && [ -x "$BIN" ]; then
	log "etcd already installed: $BIN"
else
	log "installing etcd-server"
	policy=/usr/sbin/policy-rc.d created_policy=""
	if [ ! -e "$policy" ]; then
		as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
		created_policy=1
	fi
	rc=0
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || rc=$?
	if [ "$rc" -eq 0 ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends etcd-server || rc=$?
	fi
	if [ -n "$created_policy" ]; then
		as_root rm -f "$policy"
	fi
	if [ "$rc" -ne 0 ]; then
		log "apt-get failed (exit $rc)"
		exit "$rc"
	fi
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
		as_root systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
fi
if ! command -v etcd >/dev/null 2>&1 && [ -z "${ETCDTEST_BIN:-}" ]; then
	log "etcd is still missing after the install"
	exit 1
fi
log "ready: $(${ETCDTEST_BIN:-etcd} --version | head -1)"
