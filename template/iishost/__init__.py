"""The template's code in this project: `copier update` keeps everything in this folder current.

Edit your own files instead (README.md, the project package, tests/, requirements.in); a change
here is overwritten or conflicts at the next template update. By job:

- asgi_handler: the request path (Django's ASGI handler with fewer thread hops; <slug>/asgi.py uses it)
- deploy: `invoke deploy`, `iis.*`, `acl.*`, `jobs.*` (settings, plans, runner; iis/, acl/ and
  jobs/ each with state, plan and tasks)
- jobs: the runner Task Scheduler starts for each scheduled job (`python -m iishost.jobs.run`);
  deploy/jobs plans the tasks (`invoke jobs.*`)
- emulator: IIS + HttpPlatformHandler on any OS, behind `invoke serve` (with the web.config reader)
- upkeep: `invoke template-update`
- ci: the check the real-IIS workflow (.github/workflows/windows-iis.yml) runs through IIS
- testing: helpers for tests (an ASGI client, shared fixtures)
- tests: the tests of this package; docs: how it all works and the facts behind it
"""

from pathlib import Path

# The generated project's folder: this package sits at its top level.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
