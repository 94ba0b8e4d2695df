"""JupyterHub for a class on one MLflow server: ``python -m course.hub --tracking-uri URL``.

- login.py: the hub's login checks the password against the MLflow server's accounts and keeps
  it, encrypted, as the user's auth state;
- spawner.py: each learner's JupyterLab runs as their own system user, in a bubblewrap view of
  the machine that holds their home, the course's hand-outs and nothing of anyone else;
- jupyterhub_config.py: the configuration, read from the COURSE_HUB_* variables command.py sets;
- command.py: checks what the hub needs, then runs it until Ctrl-C.
"""
