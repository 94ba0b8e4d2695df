"""The course's grader and runner: reads what notebooks logged to MLflow and reports on it.

In a notebook: ``from grading import check; check("<section or lab id>")``.
"""
from grading.selfcheck import check

__all__ = ["check"]
