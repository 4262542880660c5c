"""Django's ASGI handler without its per-request thread overhead: the same responses, several times faster.

Why: the stock `ASGIHandler` runs every sync piece of a request in a worker thread, one
`sync_to_async` hop at a time (each hook of each `MiddlewareMixin` middleware, the view, signals,
`response.close()`: about 16-19 hops for a sync view with the default middleware), and starts a new
thread for every request's `ThreadSensitiveContext`. A sync view never runs concurrently with
anything inside its own request, so those hops buy nothing; measured (iishost/docs/speed.md), they make
stock Django under uvicorn several times slower than the same project under waitress.

What changes, and nothing else:

1. Sync views (the admin, most project views) run as `WSGIHandler` runs them: `request_started`,
   the sync middleware chain and the view in one call on one of `ASGI_THREADS` long-lived threads
   (like `waitress --threads 4`), then `response.close()` (`request_finished`, which closes
   stale database connections) on that same thread. Each thread keeps its own database
   connection, exactly as under WSGI. Requests beyond `ASGI_THREADS` wait on the event loop.
2. Async views stay on the event loop. When every middleware is a plain `MiddlewareMixin`
   (Django's default stack is), `request_started` and the request hooks (`process_request`,
   `process_view`) run in one thread hop before the view, and the response hooks
   (`process_exception`, `process_template_response`, `process_response`) with `response.close()`
   in one hop after it, in Django's order and with its per-layer exception handling; otherwise
   Django's own async chain runs. The request's thread-sensitive context borrows a warm thread
   instead of starting one (asgiref >= 3.13; older asgiref, as on Python 3.10, starts one as stock
   Django does, and the hops go through `sync_to_async`).

What you could observe differently, all as Django itself does under WSGI: a sync view is not
cancelled when the client disconnects mid-request; for an async view's in-memory response,
`request_finished` fires just before the bytes are sent rather than just after (a streaming
response is closed after its last chunk, as stock).

Which route a request takes is decided by resolving its path against the root URLconf (cached);
if a middleware swaps `request.urlconf` the guess can be wrong, and Django adapts the view either
way (as it does for a sync view under ASGI), so responses stay correct.

Source followed: django/core/handlers/{asgi,base,wsgi}.py and django/utils/deprecation.py
(MiddlewareMixin) of Django 5.2 and 6.1; iishost/tests/test_fast_asgi.py checks the result against them.

`ASGI_FAST=0` in the environment (web.config's environmentVariables or .env) serves with Django's
stock `ASGIHandler` instead, to compare or to rule this module out.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import MiddlewareNotUsed, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import response_for_exception
from django.http import FileResponse
from django.urls import Resolver404, get_resolver, set_script_prefix, set_urlconf
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response
from django.utils.module_loading import import_string

# asgiref 3.13 added ThreadSensitiveContext(executor=...): reuse a thread instead of starting one.
EXECUTOR_CONTEXTS = "executor" in ThreadSensitiveContext.__init__.__code__.co_varnames
IDLE_ASYNC_THREADS = 64
MISSING = object()  # warm threads kept for async views; more are started when needed


def in_thread(executor, function):
    """sync_to_async(function) for a known one-thread executor, without asgiref's bookkeeping (a
    third of an async request's time): runs in a copy of the caller's context and keeps the
    thread's context changes (translation, urlconf), as asgiref does."""

    async def call(*args):
        context = contextvars.copy_context()
        result = await asyncio.get_running_loop().run_in_executor(executor, context.run, function, *args)
        for variable, value in context.items():
            if variable.get(MISSING) is not value:
                variable.set(value)
        return result

    return call


@functools.lru_cache(maxsize=4096)
def view_is_async(urlconf: str, path_info: str) -> bool:
    """Whether the path resolves to an async view: a routing hint, see the module docstring."""
    try:
        return iscoroutinefunction(get_resolver(urlconf).resolve(path_info).func)
    except Resolver404:
        return False  # the 404 page is rendered by sync code


def plain_middleware(paths: list[str]) -> list[MiddlewareMixin] | None:
    """Instances of the MIDDLEWARE classes, or None if one is not a plain MiddlewareMixin (its own
    __call__ could do anything between its hooks, so only Django's chain can run it)."""

    def never_called(request):
        raise AssertionError("the phased middleware hooks never call get_response")

    instances = []
    for path in paths:
        cls = import_string(path)
        if not (
            isinstance(cls, type)
            and issubclass(cls, MiddlewareMixin)
            and cls.__call__ is MiddlewareMixin.__call__
            and cls.__acall__ is MiddlewareMixin.__acall__
        ):
            return None
        try:
            instances.append(cls(never_called))
        except MiddlewareNotUsed:
            continue
    return instances


class FastASGIHandler(ASGIHandler):
    def __init__(self, threads: int = 4):
        super().__init__()  # Django's async chain: async views when the middleware is not plain
        self.sync_handler = BaseHandler()
        self.sync_handler.load_middleware(is_async=False)  # the chain WSGIHandler runs
        self.middleware = plain_middleware(settings.MIDDLEWARE)
        self.threads = threads
        self.sync_workers: asyncio.Queue | None = None  # made on first use, inside the server's loop
        self.async_workers: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django's own refusal
        path_info = scope["path"].removeprefix(get_script_prefix(scope)) or "/"
        if view_is_async(settings.ROOT_URLCONF, path_info):
            await self.handle_async_view(scope, receive, send)
        else:
            await self.handle_sync_view(scope, receive, send)

    # Sync views: what WSGIHandler.__call__ does, in one thread hop.

    async def handle_sync_view(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        if self.sync_workers is None:
            self.sync_workers = asyncio.Queue()
            for number in range(self.threads):
                self.sync_workers.put_nowait(ThreadPoolExecutor(1, f"django-sync-{number}"))
        worker = await self.sync_workers.get()
        try:
            loop = asyncio.get_running_loop()
            context = contextvars.copy_context()  # one context for the request, as in a WSGI thread
            response = await loop.run_in_executor(worker, context.run, self.sync_response, scope, body_file)
            try:
                with contextlib.suppress(asyncio.CancelledError):  # the client went away: as Django
                    await self.send_response(response, send)
            finally:
                await loop.run_in_executor(worker, context.run, response.close)  # request_finished
        finally:
            self.sync_workers.put_nowait(worker)
            body_file.close()

    def sync_response(self, scope, body_file):
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        return self.finish(self.sync_handler.get_response(request))

    def finish(self, response):
        """As ASGIHandler.run_get_response, after the chain."""
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the ASGI server chunks
        return response

    # Async views: on the event loop, the middleware hooks batched into two thread hops.

    async def handle_async_view(self, scope, receive, send):
        async def serve(hop):
            if self.middleware is None:
                await self.handle(scope, receive, send)  # Django's own async chain
            else:
                await self.handle_phased(scope, receive, send, hop)

        if not EXECUTOR_CONTEXTS:
            async with ThreadSensitiveContext():
                return await serve(sync_to_async)
        worker = self.async_workers.pop() if self.async_workers else ThreadPoolExecutor(1, "django-async")
        try:
            async with ThreadSensitiveContext(executor=worker):
                await serve(functools.partial(in_thread, worker))
        finally:
            if len(self.async_workers) < IDLE_ASYNC_THREADS:
                self.async_workers.append(worker)
            else:
                worker.shutdown(wait=False)

    async def handle_phased(self, scope, receive, send, hop):
        """ASGIHandler.handle, with request_started, the request and its request hooks in one hop.
        `hop(fn)` returns an async callable running fn on the request's thread-sensitive thread."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return

        async def process_request():
            response = await self.phased_response(scope, body_file, hop)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away while we sent
                await self.send_response(response, send)
            return response

        # As Django: a client that disconnects cancels the view (async views may handle it).
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if not response.closed:  # streaming: closed after its last chunk, as Django does
                await hop(response.close)()
        body_file.close()

    async def phased_response(self, scope, body_file, hop):
        set_script_prefix(get_script_prefix(scope))
        request, top, response, view = await hop(self.start_request)(scope, body_file)
        if request is None:
            return response  # 400 or 413 from create_request
        error = None
        if view is not None:
            callback, args, kwargs = view
            callback = self.make_view_atomic(callback)
            if not iscoroutinefunction(callback):  # the routing hint was wrong: adapt, as Django does
                callback = sync_to_async(callback)
            try:
                response = await callback(request, *args, **kwargs)
            except Exception as exc:
                error = exc
        return await hop(self.end_request)(request, top, response, error)

    def end_request(self, request, top, response, error):
        """The response hooks, then, for a response already in memory, response.close()
        (request_finished) in the same hop: it is sent right after, nothing is left to close."""
        response = self.finish(self.response_phase(request, top, response, error))
        if not response.streaming:
            response.close()
        return response

    def start_request(self, scope, body_file):
        """request_started, the request object and the request hooks: (request, top, response, view)."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return None, None, error_response, None
        set_urlconf(settings.ROOT_URLCONF)  # as BaseHandler.get_response_async
        return request, *self.request_phase(request)

    def request_phase(self, request):
        """Run the request hooks down the onion. Returns (top, response, view): `top` is the innermost
        layer whose process_response must run (len(middleware) when the innermost handler was
        reached), `view` the (callback, args, kwargs) still to call, or None with a response."""
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
    if os.environ.get("ASGI_FAST", "1") == "0":
        return ASGIHandler()
    return FastASGIHandler(threads=int(os.environ.get("ASGI_THREADS", "4")))
