#!/usr/bin/env bash
# Driver of the kafka_python_parity ctest: writes a partition with
# segment_writer into a fresh temporary directory, then has
# kafka_python_parity.py read it back with kafka-python.
#   run_kafka_python_parity.sh SEGMENT_WRITER PARITY_SCRIPT [KEEP_DIR]
# With KEEP_DIR the files are written there and kept (for a look by hand).
set -euo pipefail

writer=$1
script=$2

# kafka-python comes from Debian (python3-kafka), so it lives in the system
# interpreter's dist-packages; a python3 earlier on PATH (pyenv, a venv) may
# not see it. Take the first interpreter that can import it.
python=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import kafka.record' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "kafka_python_parity: no python3 can import kafka-python;" \
       "install python3-kafka (scripts/install-deps.sh)" >&2
  exit 1
fi

if [ $# -ge 3 ]; then
  dir=$3
  mkdir -p "$dir"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ringlog-parity.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
fi

"$writer" "$dir"
"$python" "$script" "$dir"
