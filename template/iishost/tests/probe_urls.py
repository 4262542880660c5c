"""Views for test_asgi_handler_probes.py: request-local state, streaming, resolution errors, time."""

import time

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path, register_converter, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext


class Refusing:
    """A path converter that answers 404 itself, as Django's docs allow (Http404 from to_python)."""

    regex = "[a-z]+"

    def to_python(self, value):
        from django.http import Http404

        raise Http404(f"no {value}")

    def to_url(self, value):
        return value


register_converter(Refusing, "refusing")


def state() -> dict:
    return {
        "reverse": reverse("sync-state"),
        "language": get_language(),
        "yes": gettext("Yes"),
        "timezone": timezone.get_current_timezone_name(),
    }


def sync_state(request):
    return JsonResponse({**state(), "urlconf": getattr(request, "urlconf", None)})


async def async_state(request):
    return JsonResponse({**state(), "urlconf": getattr(request, "urlconf", None)})


def sync_stream(request):
    def chunks():
        time.sleep(float(request.GET.get("sleep", 0)))
        yield reverse("sync-state").encode() + b" "
        yield gettext("Yes").encode()

    return StreamingHttpResponse(chunks())


def sync_slow(request):
    time.sleep(float(request.GET.get("sleep", 0.3)))
    return HttpResponse("late")


def sync_big(request):
    return HttpResponse(b"x" * 1_000_000)


def sync_quick(request):
    return HttpResponse("quick")


async def async_view(request):
    return HttpResponse("async")


urlpatterns = [
    path("sync/state/", sync_state, name="sync-state"),
    path("async/state/", async_state),
    path("sync/stream/", sync_stream),
    path("sync/slow/", sync_slow),
    path("sync/big/", sync_big),
    path("sync/quick/", sync_quick),
    path("async/view/", async_view),
    path("refused/<refusing:name>/", sync_quick),
]
