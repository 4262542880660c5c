import os

from django.conf import settings
from django.http import HttpResponse

from iishost.farm import health_headers


async def health(request):
    """Answers without touching the database: what `invoke deploy` and load balancers poll.

    With DJANGO_HEALTH_SHOWS_PID=1 the answer names the process that gave it (X-Backend-Pid), so a
    check can see every process of web.config's processesPerApplication answer; off by default.
    With HEALTH_SHOWS_RELEASE (on in a farm) it names the static files and the release it serves
    (X-Static-Manifest, X-Release), which a balancer or the rollout compares between servers.
    """
    response = HttpResponse("ok", content_type="text/plain")
    if settings.HEALTH_SHOWS_PID:
        response["X-Backend-Pid"] = str(os.getpid())
    if getattr(settings, "HEALTH_SHOWS_RELEASE", False):  # a settings.py from before the farm option
        for name, value in health_headers(settings.STATIC_ROOT, settings.BASE_DIR).items():
            response[name] = value
    return response
