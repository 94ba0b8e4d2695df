"""The course's grader and runner: reads what notebooks logged to MLflow and reports on it.

In a notebook: ``from grading import check; check("02-first-experiment")``.
"""
from grading.selfcheck import check

__all__ = ["check"]
