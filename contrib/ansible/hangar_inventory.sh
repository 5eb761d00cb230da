#!/bin/sh
# Ansible dynamic inventory script for Hangar: runs `hangar inventory` with the arguments
# Ansible passes (--list, or --host NAME).
#   ansible-inventory -i contrib/ansible/hangar_inventory.sh --list
#   ansible all -i contrib/ansible/hangar_inventory.sh -m ping
# The daemon: HANGAR_SOCKET (default /run/hangar/hangar.sock), or HANGAR_URL with
# HANGAR_TOKEN (and HANGAR_FINGERPRINT or HANGAR_CA) for one over TLS.
# The hangar command: HANGAR_CLI if set, else the repository's bin/hangar next to this
# script, else `hangar` in PATH.
set -eu
if [ -n "${HANGAR_CLI:-}" ]; then
  exec "$HANGAR_CLI" inventory "$@"
fi
here=$(dirname "$0")
if [ -x "$here/../../bin/hangar" ]; then
  exec "$here/../../bin/hangar" inventory "$@"
fi
exec hangar inventory "$@"
