#!/bin/sh
# The secrets docker-compose.yml reads, as files under ./secrets (or $SECRETS_DIR): generated
# here when missing, never overwritten (delete one to rotate it), never committed.
#
#   BUREAU_WEBHOOK_URL=https://... OPERATORS_WEBHOOK_URL=https://... sh deploy/secrets.sh
#
# The folder is 0700 (only its owner on the host may read it); the files are 0644 inside it,
# because Compose mounts each file as it is into the one container that names it, where the
# program reading it runs as its own user (riskmon 10001, postgres, grafana, nobody).
set -eu

dir="${SECRETS_DIR:-$(dirname "$0")/../secrets}"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random() {  # $1 bytes of the kernel's randomness, as text safe in a URL
  head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

put() {  # put NAME VALUE: write the secret unless it exists
  if [ -s "$dir/$1" ]; then
    echo "kept      $1"
    return
  fi
  printf '%s' "$2" > "$dir/$1"  # no newline: every reader takes the file whole
  chmod 644 "$dir/$1"
  echo "generated $1"
}

webhook() {  # webhook NAME VALUE: an https URL the operator gives; no placeholder
  if [ -s "$dir/$1" ]; then
    echo "kept      $1"
    return
  fi
  case "$2" in
    https://*) put "$1" "$2" ;;
    *)
      echo "error: $1: set $3 to the receiver's https:// URL" >&2
      exit 2
      ;;
  esac
}

put postgres_password "$(random 24)"
put database_url "postgresql://riskmon:$(head -n1 "$dir/postgres_password")@postgres:5432/riskmon"
put console_secret "$(random 32)"
put backup_key "$(random 32)"
put grafana_admin_password "$(random 16)"
webhook bureau_webhook_url "${BUREAU_WEBHOOK_URL:-}" BUREAU_WEBHOOK_URL
webhook operators_webhook_url "${OPERATORS_WEBHOOK_URL:-}" OPERATORS_WEBHOOK_URL
echo "secrets in $dir; keep a copy of backup_key apart from the backups"
