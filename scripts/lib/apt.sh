# Sourced by scripts/install-deps.sh and scripts/librdkafka-conformance.sh:
#   install_missing PACKAGE...   apt-get installs those not installed yet
# (one apt-get update per run, sudo when not root). APT_LOG_PREFIX names the
# caller in its "installing ..." line.
apt_sudo=()
if [ "$(id -u)" -ne 0 ]; then
  apt_sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
apt_updated=0

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "${APT_LOG_PREFIX:-install}: installing ${missing[*]}" >&2
  if [ "$apt_updated" -eq 0 ]; then
    "${apt_sudo[@]}" apt-get update -q
    apt_updated=1
  fi
  "${apt_sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}
