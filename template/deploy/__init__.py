"""Template-owned code for running this project on IIS: `copier update` keeps it current.

webconfig: reads web.config as IIS does. The Invoke tasks in tasks.py call into this package.
"""
