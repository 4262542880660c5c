"""Windows sign-in behind IIS (the `windows_auth` option; iishost/docs/intranet.md, "Windows sign-in").

IIS authenticates the browser (Negotiate/NTLM); HttpPlatformHandler duplicates the user's token
into the backend process and names the handle in the `X-IIS-WindowsAuthToken` request header
(iishost/docs/iis-facts.md). Split by job: handles.py turns a handle into `DOMAIN\\user` (pywin32)
and closes it, emulated.py is the emulator's stand-in, resolver.py picks one, middleware.py trusts
the header only from IIS's loopback proxy and logs the user in, backend.py maps the Windows name to
a Django user.
"""

HEADER = "X-IIS-WindowsAuthToken"
# Django's META key for the header (HTTP_ + upper case, "-" -> "_").
META_KEY = "HTTP_X_IIS_WINDOWSAUTHTOKEN"
