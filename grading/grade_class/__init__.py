"""`python -m grading grade-class`: every learner's namespace on a class server, graded from the server."""
