"""Django's ASGI handler with fewer thread hops: Django's own answers, faster.

Why: the stock `ASGIHandler` runs every sync piece of a request in a worker thread, one
`sync_to_async` hop at a time (each hook of each `MiddlewareMixin` middleware, the view, signals,
`response.close()`: about 16-19 hops for a sync view with the default middleware), and starts a new
thread for every request's `ThreadSensitiveContext`. Measured (iishost/docs/speed.md), that makes
stock Django under uvicorn several times slower than the same project under a WSGI server.

What this handler changes, and nothing else:

1. The request is served as Django's `ASGIHandler.handle` serves it (Django's own body reading,
   request object, disconnect listening and cancellation, sending, streaming, `response.close()`
   after sending), inside a `ThreadSensitiveContext` bound to one of `ASGI_THREADS` long-lived
   threads (the one with the least work queued) instead of a new thread per request (asgiref >=
   3.13; older asgiref, as on Python 3.10, starts one per request as stock Django does).
2. Fewer hops. The first hop sends `request_started`, builds the request and, for a sync view (the
   admin, most views), gets the whole response through the middleware chain `WSGIHandler` runs; the
   second is `response.close()` after sending (Django: 16-19 hops). An async view stays on the event
   loop; when every middleware is a plain `MiddlewareMixin` (Django's default stack is), their
   request hooks run in the first hop and their response hooks in one hop after the view, in
   Django's order and with its per-layer exception handling; otherwise Django's own async chain runs.

Every hop is asgiref's `sync_to_async`, so request-local state (translation, time zone, script
prefix, `request.urlconf`) moves between the loop and the thread exactly as under stock Django.
The route is chosen by resolving the path against the root URLconf; anything that resolution
raises (a converter's `Http404`, a broken URLconf) sends the request down the sync chain, where
Django turns it into the same response. Differences you could observe, all as under WSGI: a sync
view is not cancelled when the client disconnects; and if a middleware swaps `request.urlconf` so
that the view it reaches is async although the root URLconf's is not (or none), Django's sync
chain runs that async view on the event loop through `async_to_sync`, not cancelled on disconnect
either. A project with a middleware that has async code of its own (async-only, or its own
`__acall__`) is served by Django's stock handler: the sync chain would run other code.

Judged by Django's own test suite (the template's tests/test_django_suite.py runs it against both
handlers) and by iishost/tests/test_fast_asgi.py. Source followed: django/core/handlers/{asgi,base,
wsgi}.py and django/utils/deprecation.py (MiddlewareMixin) of Django 5.2 and 6.1.

`ASGI_FAST=0` in the environment (web.config's environmentVariables or .env) serves with Django's
stock `ASGIHandler` instead, to compare or to rule this module out.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress

from asgiref.sync import AsyncToSync, ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import MiddlewareNotUsed, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import response_for_exception
from django.http import FileResponse
from django.urls import get_resolver, set_script_prefix, set_urlconf
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response
from django.utils.module_loading import import_string

# asgiref 3.13 added ThreadSensitiveContext(executor=...): reuse a thread instead of starting one.
EXECUTOR_CONTEXTS = "executor" in ThreadSensitiveContext.__init__.__code__.co_varnames


class Worker(ThreadPoolExecutor):
    """One long-lived thread. A request takes the one with the fewest hops queued, then the fewest
    requests: a request that is only sending its response (to a slow client) holds no thread."""

    def __init__(self, name: str):
        super().__init__(1, name)
        self.pending = 0  # hops submitted and not finished
        self.requests = 0  # requests bound to this thread (changed on the event loop only)
        self._lock = threading.Lock()

    @property
    def load(self) -> tuple[int, int]:
        return self.pending, self.requests

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self.pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future) -> None:
        with self._lock:
            self.pending -= 1


@functools.lru_cache(maxsize=4096)
def view_is_async(resolver, path_info: str) -> bool:
    """Whether the path resolves to an async view: the route, see the module docstring. Keyed on the
    resolver, which `clear_url_caches()` replaces."""
    try:
        return iscoroutinefunction(resolver.resolve(path_info).func)
    except Exception:  # 404, Http404 from a converter, a broken URLconf: the sync chain answers
        return False


def is_plain(middleware) -> bool:
    """A MiddlewareMixin that only defines hooks: its own __call__ or __acall__ could do anything
    between them, so only Django's chain can run such a middleware."""
    return (
        isinstance(middleware, type)
        and issubclass(middleware, MiddlewareMixin)
        and middleware.__call__ is MiddlewareMixin.__call__
        and middleware.__acall__ is MiddlewareMixin.__acall__
    )


def same_code_either_way(middleware) -> bool:
    """Whether Django's async chain (stock ASGIHandler) and WSGIHandler's sync chain run the same code
    of this middleware: a plain MiddlewareMixin (its async mode calls the sync hooks), or one that is
    not async-capable (the async chain adapts its sync code). One with its own async code (e.g.
    RemoteUserMiddleware's `aprocess_request`) may answer differently, so such a project is served
    by Django's stock handler."""
    return is_plain(middleware) or not getattr(middleware, "async_capable", False)


def plain_middleware(classes: list[type]) -> list[MiddlewareMixin] | None:
    """Instances of the MIDDLEWARE classes for the phased hooks, or None unless all are plain."""

    def never_called(request):
        raise AssertionError("the phased middleware hooks never call get_response")

    instances = []
    for cls in classes:
        if not is_plain(cls):
            return None
        try:
            instances.append(cls(never_called))
        except MiddlewareNotUsed:
            continue
    return instances


def in_thread(function):
    """Run `function` in the request's thread, with asgiref's context propagation."""
    return sync_to_async(function, thread_sensitive=True)


class FastASGIHandler(ASGIHandler):
    def __init__(self, threads: int = 4):
        super().__init__()  # Django's async chain: async views when the middleware is not plain
        classes = [import_string(path) for path in settings.MIDDLEWARE]
        self.fast = all(same_code_either_way(cls) for cls in classes)
        self.sync_handler = BaseHandler()
        self.middleware = None
        if self.fast:  # else unused: loading it would only log Django's adaptation notes twice
            self.sync_handler.load_middleware(is_async=False)  # the chain WSGIHandler runs
            self.middleware = plain_middleware(classes)
        self.threads = threads
        self.workers = [Worker(f"django-sync-{number}") for number in range(threads)]
        # Which way each request went: "sync" (WSGIHandler's chain in one hop), "async" (phased
        # hooks), "django" (Django's own code: async chain or stock handler). Read by the benchmark.
        self.routes = Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.fast:
            self.routes["django"] += scope["type"] == "http"
            return await super().__call__(scope, receive, send)  # Django's own handler
        if not EXECUTOR_CONTEXTS or getattr(AsyncToSync.executors, "current", None):
            # Old asgiref; or called through async_to_sync from a sync thread (a test client, a
            # WSGI adapter), whose thread Django's sync code then runs on, as under stock Django.
            async with ThreadSensitiveContext():
                return await self.fast_handle(scope, receive, send)
        worker = min(self.workers, key=lambda w: w.load)
        worker.requests += 1
        try:
            async with ThreadSensitiveContext(executor=worker):
                await self.fast_handle(scope, receive, send)
        finally:
            worker.requests -= 1

    async def fast_handle(self, scope, receive, send):
        """ASGIHandler.handle (Django 5.2 and 6.1) with its first hops merged: `request_started`,
        the request object and, for a sync view, the whole response in one hop. As there, the
        client's disconnect cancels getting and sending the response, and `response.close()` (which
        sends `request_finished`) runs after sending, in the request's thread."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            tasks = [
                # Django's order: the listener first, so that it is checked (and a disconnect wins)
                # before the response task's outcome.
                asyncio.create_task(self.listen_for_disconnect(receive)),
                asyncio.create_task(self.respond(scope, body_file, send)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    with suppress(RequestAborted):  # the client left
                        task.result()
                else:
                    task.cancel()  # async views may handle cancellation
                    with suppress(asyncio.CancelledError):
                        await task
            try:
                response = tasks[1].result()
            except asyncio.CancelledError:
                await signals.request_finished.asend(sender=self.__class__)
            else:
                await in_thread(response.close)()

    async def respond(self, scope, body_file, send):
        route, request, response = await in_thread(self.start)(scope, body_file)
        self.routes[route] += 1
        if route == "django":
            response = await self.get_response_async(request)  # Django's own async chain
        elif route == "async":
            response = await self.phased_response(request, *response)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the ASGI server chunks
        with suppress(asyncio.CancelledError):  # the client left while we were sending (as Django)
            await self.send_response(response, send)
        return response

    def start(self, scope, body_file):
        """One hop: `request_started`, the request, and the response of a sync view or the request
        hooks of an async one. Returns (route, request, response or the request phase's result)."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return "error", None, error_response  # 400/413, sent as Django sends it
        if not view_is_async(get_resolver(settings.ROOT_URLCONF), request.path_info):
            return "sync", request, self.sync_handler.get_response(request)
        if self.middleware is None:
            return "django", request, None
        return "async", request, self.request_phase(request)

    # Async views with plain middleware: the hooks batched into two hops around the view.

    async def phased_response(self, request, top, response, view):
        error = None
        if view is not None:
            callback, args, kwargs = view
            if not iscoroutinefunction(callback):  # request.urlconf led elsewhere: adapt, as Django does
                callback = sync_to_async(callback, thread_sensitive=True)
            try:
                response = await callback(request, *args, **kwargs)
            except Exception as exc:
                error = exc
        return await in_thread(self.response_phase)(request, top, response, error)

    def request_phase(self, request):
        """Run the request hooks down the onion. Returns (top, response, view): `top` is the innermost
        layer whose process_response must run (len(middleware) when the innermost handler was
        reached), `view` the (callback, args, kwargs) still to call, or None with a response."""
        set_urlconf(settings.ROOT_URLCONF)  # as BaseHandler.get_response_async
        layers = self.middleware
        for index, layer in enumerate(layers):
            if hasattr(layer, "process_request"):
                try:
                    response = layer.process_request(request)
                except Exception as exc:
                    # Converted by the wrapper around this layer: its own process_response is skipped.
                    return index - 1, response_for_exception(request, exc), None
                if response:
                    return index, response, None
        try:
            callback, args, kwargs = self.resolve_request(request)
            for layer in layers:
                if hasattr(layer, "process_view"):
                    response = layer.process_view(request, callback, args, kwargs)
                    if response:
                        return len(layers), response, None
            # Raises for an async view under ATOMIC_REQUESTS, as _get_response_async does.
            callback = self.make_view_atomic(callback)
        except Exception as exc:
            return len(layers) - 1, response_for_exception(request, exc), None
        return len(layers), None, (callback, args, kwargs)

    def response_phase(self, request, top, response, error):
        """The innermost handler's checks (as BaseHandler._get_response_async), then process_response
        up the onion from `top`, each layer's exceptions converted as Django's wrappers do."""
        layers = self.middleware
        if top == len(layers):
            top -= 1
            try:
                if error is not None:
                    response = self.exception_hooks(error, request)
                    if response is None:
                        raise error
                self.check_response(response, None, name="The view")
                if hasattr(response, "render") and callable(response.render):
                    for layer in reversed(layers):
                        if hasattr(layer, "process_template_response"):
                            response = layer.process_template_response(request, response)
                    try:
                        response = response.render()
                    except Exception as exc:
                        response = self.exception_hooks(exc, request)
                        if response is None:
                            raise
            except Exception as exc:
                response = response_for_exception(request, exc)
        for layer in reversed(layers[: top + 1]):
            if hasattr(layer, "process_response"):
                try:
                    response = layer.process_response(request, response)
                except Exception as exc:
                    response = response_for_exception(request, exc)
        response._resource_closers.append(request.close)  # as BaseHandler.get_response_async
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        return response

    def exception_hooks(self, exc, request):
        """process_exception, innermost layer first, as BaseHandler.process_exception_by_middleware."""
        for layer in reversed(self.middleware):
            if hasattr(layer, "process_exception"):
                response = layer.process_exception(request, exc)
                if response:
                    return response
        return None


def get_asgi_application():
    """Drop-in for django.core.asgi.get_asgi_application()."""
    import django

    django.setup(set_prefix=False)
    from .envvars import env_bool, env_int

    if not env_bool("ASGI_FAST", True):
        return ASGIHandler()
    return FastASGIHandler(threads=env_int("ASGI_THREADS", 4, minimum=1, unit="threads"))
