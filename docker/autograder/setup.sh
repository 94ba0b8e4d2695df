#!/usr/bin/env bash
# Gradescope image set-up: the course's pinned stack, and bubblewrap and setpriv (util-linux) for the sandbox.
# Gradescope copies the autograder zip (this repository) to /autograder/source.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv make bubblewrap util-linux
cd /autograder/source
make setup
