#!/usr/bin/env bash
# Install dagen and its orchestrator integrations (with their test extras) into the
# environment of PYTHON, then run each integration's tests in its own pytest process.
#
#   integrations/test.sh /tmp/venv/bin/python                 # prefect, dagster, airflow
#   integrations/test.sh /tmp/venv/bin/python dagster prefect # some of them
#
# Everything is installed in ONE pip command on purpose: dagen's name on PyPI belongs to an
# unrelated project (so dagen must come from this repository in the same resolve), and
# apache-airflow installed after prefect would pull fastapi<0.137 under prefect, which
# needs >=0.139 (resolved together, pip picks releases that fit both).
set -euo pipefail

PYTHON=${1:?usage: integrations/test.sh PYTHON [prefect|dagster|airflow]...}
shift
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
if [ $# -gt 0 ]; then NAMES=("$@"); else NAMES=(prefect dagster airflow); fi

specs=(-e "$ROOT[test]")
for name in "${NAMES[@]}"; do
    [ -f "$HERE/$name/pyproject.toml" ] || { echo "no integration named $name" >&2; exit 2; }
    specs+=(-e "$HERE/$name[test]")
done

start=$SECONDS
# a current pip resolves this set in ~1.5 min; the pip 23 that ships with Python 3.11's venv
# backtracks for over 4 min
"$PYTHON" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$PYTHON" -m pip install --quiet --disable-pip-version-check "${specs[@]}"
"$PYTHON" -m pip check --disable-pip-version-check
echo "installed ${NAMES[*]} in $((SECONDS - start)) s"

failed=()
for name in "${NAMES[@]}"; do
    began=$SECONDS
    echo "== $name"
    # from the integration's folder: its pyproject.toml holds its pytest settings
    if (cd "$HERE/$name" && "$PYTHON" -m pytest -q tests); then
        echo "== $name passed in $((SECONDS - began)) s"
    else
        failed+=("$name")
        echo "== $name FAILED after $((SECONDS - began)) s"
    fi
done
echo "total $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
