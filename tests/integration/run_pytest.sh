#!/usr/bin/env bash
# Runs pytest with the system interpreter that has the Debian client
# packages (python3-kafka, python3-confluent-kafka, python3-pytest): a python3
# earlier on PATH (pyenv, a venv) may not see them.
#   run_pytest.sh PYTEST_ARGS...
set -euo pipefail
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import pytest, kafka, confluent_kafka' 2>/dev/null; then
    exec "$candidate" -m pytest "$@"
  fi
done
echo "run_pytest.sh: no python3 with pytest, kafka-python and confluent-kafka;" \
     "run scripts/install-deps.sh" >&2
exit 1
