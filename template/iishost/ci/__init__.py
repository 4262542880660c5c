"""Checks the Windows workflow (.github/workflows/windows-iis.yml) runs against real IIS; the
template's tests run the same code against the emulator (iishost/docs/deploying.md, "The real-IIS
workflow")."""
