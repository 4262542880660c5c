"""iishost.winauth's token handling, off Windows: the pywin32 resolver against a fake kernel with a
handle table per process (fakes/win32.py), and the emulator's stand-in tokens. Every token that
reaches the process is closed on every path; a number that is not one of its tokens is refused
and never closed (it may be one of the process's own handles)."""

import pytest

from iishost.tests.fakes.win32 import File, Kernel, Token
from iishost.winauth.emulated import EmulatedTokens
from iishost.winauth.handles import TokenRefused, Win32TokenResolver, parse_handle
from iishost.winauth.resolver import from_environment


@pytest.fixture
def kernel():
    return Kernel({"S-1-5-21-1-1001": ("alice", "CONTOSO"), "S-1-5-21-1-1002": ("bob", "CONTOSO")})


def resolver_for(kernel):
    return Win32TokenResolver(*kernel.modules())


def test_a_token_becomes_domain_and_user_and_is_closed(kernel):
    handle = kernel.open(Token("S-1-5-21-1-1001"))
    assert resolver_for(kernel)(f"{handle:x}") == "CONTOSO\\alice"
    assert kernel.open_handles() == {}
    assert kernel.closed == [handle]


def test_upper_case_hex_is_read_too(kernel):
    handle = kernel.open(Token("S-1-5-21-1-1002"))
    assert resolver_for(kernel)(f"{handle:X}") == "CONTOSO\\bob"
    assert kernel.open_handles() == {}


def test_a_token_whose_account_cannot_be_looked_up_is_still_closed(kernel):
    handle = kernel.open(Token("S-1-5-21-9-9999"))
    with pytest.raises(TokenRefused, match="could not be looked up"):
        resolver_for(kernel)(f"{handle:x}")
    assert kernel.open_handles() == {}


def test_a_token_without_query_access_is_closed(kernel):
    handle = kernel.open(Token("S-1-5-21-1-1001", query=False))
    with pytest.raises(TokenRefused):
        resolver_for(kernel)(f"{handle:x}")
    assert kernel.open_handles() == {}


@pytest.mark.parametrize("value", ["", "0", "zz", "0x1a4", "1a4;rm", "1" * 17, "-4", " "])
def test_values_that_are_no_handle_are_refused_before_any_call(kernel, value):
    with pytest.raises(TokenRefused, match="not a token handle"):
        resolver_for(kernel)(value)
    assert kernel.closed == []


def test_a_bogus_handle_is_refused(kernel):
    mine = kernel.open(Token("S-1-5-21-1-1001"))
    with pytest.raises(TokenRefused, match="not a token of this process"):
        resolver_for(kernel)(f"{mine + 4:x}")
    assert kernel.open_handles() == {mine: Token("S-1-5-21-1-1001")}  # untouched


def test_another_process_token_handle_means_nothing_here(kernel):
    theirs = kernel.open(Token("S-1-5-21-1-1001"), process=2)
    with pytest.raises(TokenRefused, match="not a token of this process"):
        resolver_for(kernel)(f"{theirs:x}")
    assert kernel.tables[2] == {theirs: Token("S-1-5-21-1-1001")}


def test_a_handle_of_our_own_that_is_no_token_is_refused_and_left_open(kernel):
    log = kernel.open(File(r"C:\site\logs\django.log"))
    with pytest.raises(TokenRefused):
        resolver_for(kernel)(f"{log:x}")
    assert kernel.open_handles(File) == {log: File(r"C:\site\logs\django.log")}


def test_a_handle_is_closed_once_so_a_replay_is_refused(kernel):
    handle = kernel.open(Token("S-1-5-21-1-1001"))
    resolver = resolver_for(kernel)
    resolver(f"{handle:x}")
    with pytest.raises(TokenRefused):
        resolver(f"{handle:x}")
    assert kernel.closed == [handle]


def test_parse_handle_reads_what_hph_writes():
    # _ui64toa_s(handle, buf, 16, 16): lower-case hex, no prefix
    assert parse_handle("1a4") == 0x1A4
    assert parse_handle("ffffffffffffffff") == 2**64 - 1


# --- the emulator's stand-in ---------------------------------------------------------------------


def test_emulated_tokens_resolve_once_to_the_configured_user():
    emulator = EmulatedTokens.new_run("CONTOSO\\alice")
    backend = from_environment(emulator.environment(), platform="linux")
    value = emulator.issue()
    assert len(value) == 16 and value == value.lower()
    assert backend(value) == "CONTOSO\\alice"
    with pytest.raises(TokenRefused, match="already used"):
        backend(value)


def test_emulated_tokens_of_another_run_or_forged_are_refused():
    backend = from_environment(EmulatedTokens.new_run("CONTOSO\\alice").environment(), platform="linux")
    other_run = EmulatedTokens.new_run("CONTOSO\\alice")
    with pytest.raises(TokenRefused, match="not issued"):
        backend(other_run.issue())
    with pytest.raises(TokenRefused):
        backend("1a4")


@pytest.mark.parametrize("marker", ["APP_POOL_ID", "HTTP_PLATFORM_IIS_APP_POOL_ID"])
def test_the_stand_in_refuses_to_run_inside_iis(marker):
    environ = {**EmulatedTokens.new_run("CONTOSO\\alice").environment(), marker: "site"}
    with pytest.raises(RuntimeError, match="never runs under IIS"):
        from_environment(environ, platform="win32")


@pytest.mark.parametrize("key", ["", "secret", "A" * 64, "0" * 63])
def test_the_stand_in_needs_a_per_run_key(key):
    with pytest.raises(ValueError, match="64 lower-case hex"):
        from_environment(
            {"IISHOST_EMULATOR_WINAUTH_KEY": key, "IISHOST_EMULATOR_WINDOWS_USER": "C\\a"}, "linux"
        )


def test_without_the_emulator_off_windows_there_is_no_resolver():
    assert from_environment({}, platform="linux") is None


@pytest.mark.skipif(__import__("sys").platform != "win32", reason="needs Windows: pywin32 and a real token")
def test_real_token_of_this_process_on_windows():
    import win32api
    import win32con
    import win32security

    token = win32security.OpenProcessToken(win32api.GetCurrentProcess(), win32con.TOKEN_QUERY)
    handle = token.Detach()
    name = Win32TokenResolver()(f"{handle:x}")
    assert name.lower().endswith("\\" + win32api.GetUserName().lower())
    with pytest.raises(win32api.error if hasattr(win32api, "error") else Exception):
        win32api.CloseHandle(handle)  # already closed by the resolver
