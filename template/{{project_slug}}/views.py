import os

from django.conf import settings
from django.http import HttpResponse


async def health(request):
    """Answers without touching the database: what `invoke deploy` and load balancers poll.

    With DJANGO_HEALTH_SHOWS_PID=1 the answer names the process that gave it (X-Backend-Pid), so a
    check can see every process of web.config's processesPerApplication answer; off by default.
    """
    response = HttpResponse("ok", content_type="text/plain")
    if settings.HEALTH_SHOWS_PID:
        response["X-Backend-Pid"] = str(os.getpid())
    return response
