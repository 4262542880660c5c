"""Views that exercise what iishost.asgi_handler must keep as Django does it, sync and async alike.

Used by test_fast_asgi.py as ROOT_URLCONF; the project's own URLs are included too (the admin).
"""

import asyncio
import os
import threading

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import SynchronousOnlyOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import include, path


def where() -> dict:
    """Where the view runs: on the event loop (async) or in a thread (sync)."""
    try:
        on_loop = asyncio.current_task() is not None
    except RuntimeError:
        on_loop = False
    return {"on_loop": on_loop, "thread": threading.current_thread().name}


def sync_where(request):
    return JsonResponse(where())


async def async_where(request):
    return JsonResponse(where())


def sync_orm(request):
    return JsonResponse({"users": User.objects.count()})


async def async_orm(request):
    try:
        User.objects.count()
    except SynchronousOnlyOperation:
        return JsonResponse({"users": await User.objects.acount(), "sync_call_refused": True})
    return JsonResponse({"sync_call_refused": False})


def sync_session(request):
    request.session["n"] = request.session.get("n", 0) + 1
    return JsonResponse({"n": request.session["n"], "user": str(request.user)})


async def async_session(request):
    n = await request.session.aget("n", 0) + 1
    await request.session.aset("n", n)
    return JsonResponse({"n": n, "user": str(await request.auser())})


def sync_message(request):
    messages.info(request, "from a sync view")
    return HttpResponse("set")


async def async_message(request):
    messages.info(request, "from an async view")
    return HttpResponse("set")


def sync_messages(request):
    return JsonResponse({"messages": [str(m) for m in messages.get_messages(request)]})


async def async_messages(request):
    return JsonResponse({"messages": [str(m) for m in messages.get_messages(request)]})


def sync_post(request):
    return JsonResponse({"posted": dict(request.POST)})


async def async_post(request):
    return JsonResponse({"posted": dict(request.POST)})


def sync_boom(request):
    raise ValueError("boom")


async def async_boom(request):
    raise ValueError("boom")


def sync_missing(request):
    raise Http404("no such thing")


async def async_missing(request):
    raise Http404("no such thing")


def sync_template(request):
    return TemplateResponse(request, "home.html")


async def async_template(request):
    return TemplateResponse(request, "home.html")


NAMES = ("where", "orm", "session", "message", "messages", "post", "boom", "missing", "template")

urlpatterns = [
    *(path(f"{kind}/{name}/", globals()[f"{kind}_{name}"]) for kind in ("sync", "async") for name in NAMES),
    path("", include(os.environ["DJANGO_SETTINGS_MODULE"].rpartition(".")[0] + ".urls")),  # and the admin
]
