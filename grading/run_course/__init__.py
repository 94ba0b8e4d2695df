"""run-course: every section notebook in order, executed with papermill into one store, then checked."""
