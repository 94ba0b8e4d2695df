"""The course's grader and runner: reads what notebooks logged to MLflow and reports on it."""
