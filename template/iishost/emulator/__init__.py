"""An emulator of IIS + HttpPlatformHandler that runs this site's web.config on any OS.

`python -m iishost.emulator --site-root . --port 8000` (what `invoke serve` runs) reads the
web.config files, starts the backend the way HttpPlatformHandler does and answers as IIS would:
500.19 for an invalid configuration, 404.7/404.8 from request filtering, static folders served
by the static file handler, 502.3 when the backend does not answer. iishost/docs/emulator.md lists every
emulated behaviour with its source. Built on aiohttp (server and client), never a home-made parser.
"""
