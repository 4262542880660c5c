"""Deploying to IIS: settings (config), plans of argv steps (iis/, acl/, app_plan), the runner
that applies them, and the Invoke tasks built on them (tasks.py, iis/tasks.py, acl/tasks.py)."""
