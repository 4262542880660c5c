"""A tiny backend the emulator tests start as processPath/arguments: an aiohttp app steered by
its URL (crash, sleep, echo...) and by its arguments (slow or failing start)."""

import argparse
import asyncio
import os
import subprocess
import sys
import time

from aiohttp import web


async def pid(request):
    return web.Response(text=str(os.getpid()))


async def headers(request):
    return web.json_response(
        {"host": request.host, "path_qs": request.raw_path, "headers": list(request.headers.items())}
    )


async def signed_in(request):
    """Who the emulator's stand-in token names, as iishost.winauth would resolve it in this process."""
    from iishost.winauth.emulated import EmulatedTokens
    from iishost.winauth.handles import TokenRefused

    global TOKENS
    TOKENS = TOKENS or EmulatedTokens.from_environment(os.environ)
    value = request.headers.get("X-IIS-WindowsAuthToken")
    if TOKENS is None or value is None:
        return web.Response(status=403, text=f"no stand-in key ({TOKENS is None}) or no token ({value})")
    try:
        return web.Response(text=TOKENS(value))
    except TokenRefused as exc:
        return web.Response(status=403, text=str(exc))


TOKENS = None


async def echo_path(request):
    return web.Response(text=request.path)


async def no_server(request):
    response = web.Response(text="no Server header")
    response["no-server"] = True
    return response


async def drop_server(request, response):
    if response.get("no-server"):
        response.headers.popall("Server", None)


async def sleep(request):
    await asyncio.sleep(float(request.match_info["seconds"]))
    return web.Response(text="slept")


async def crash(request):
    os._exit(3)


async def echo(request):
    response = web.StreamResponse()
    await response.prepare(request)
    async for chunk in request.content.iter_any():
        await response.write(chunk)
    return response


async def stream(request):
    response = web.StreamResponse()
    await response.prepare(request)
    for i in range(3):
        await response.write(f"part {i}\n".encode())
        await asyncio.sleep(0.05)
    return response


async def child(request):
    """Start a grandchild that outlives nothing: the emulator must stop it with its parent."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    return web.Response(text=str(process.pid))


async def websocket(request):
    ws = web.WebSocketResponse(protocols=("echo",))
    await ws.prepare(request)
    async for message in ws:
        if message.type == web.WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == web.WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--start-delay", type=float, default=0)
    parser.add_argument("--exit-at-start", type=int)
    parser.add_argument("--launches", help="append a line to this file at each launch")
    args = parser.parse_args()
    if args.launches:
        with open(args.launches, "a") as out:
            out.write(f"{os.getpid()}\n")
    print(f"backend {os.getpid()} starting on port {args.port}", flush=True)
    if args.exit_at_start is not None:
        sys.exit(args.exit_at_start)
    time.sleep(args.start_delay)
    app = web.Application()
    routes = {"/pid": pid, "/headers": headers, "/sleep/{seconds}": sleep, "/crash": crash}
    routes.update({"/stream": stream, "/child": child, "/ws": websocket, "/no-server": no_server})
    routes["/path/{tail:.*}"] = echo_path
    routes["/signed-in"] = signed_in
    app.on_response_prepare.append(drop_server)
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    app.router.add_post("/echo", echo)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
