"""`invoke doctor`: why the site answers 502.3, 502.5 or 500.19, read from the server as it is.

Each check reads state (appcmd, icacls, netstat, wevtutil, the project's files, a trial start of
the backend with its output in a temp folder) and returns a Check with the exact fix; nothing is
changed. iishost/docs/doctor.md describes every check and its source.
"""
