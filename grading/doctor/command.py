"""`python -m grading doctor`: why MLflow shows nothing, one line per finding with its fix."""
from __future__ import annotations

from grading.doctor import diagnose


def doctor(args) -> int:
    return diagnose.main(args.tracking_uri, args.experiment)
