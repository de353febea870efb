"""Live interviews: the candidate container, the session server and its process, JupyterLab, the hub service, the report."""
