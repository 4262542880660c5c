"""The pages a new project serves, through Django's test client."""

import os

import pytest

pytestmark = pytest.mark.django_db


def test_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"<h1>" in response.content


def test_admin_login_page_has_a_csrf_token(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert "csrftoken" in response.cookies


def test_admin_redirects_anonymous_users_to_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_login_with_a_user(client, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", "a-long-test-password")
    client.get("/admin/login/")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "admin", "password": "a-long-test-password", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_login_post_without_csrf_token_is_refused(django_user_model):
    from django.test import Client

    django_user_model.objects.create_superuser("admin", "admin@example.com", "a-long-test-password")
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/admin/login/", {"username": "admin", "password": "a-long-test-password"})
    assert response.status_code == 403


def test_unknown_host_is_refused(client):
    assert client.get("/", HTTP_HOST="evil.example").status_code == 400


def test_security_headers(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_health_names_its_process_only_when_asked(client, settings):
    """DJANGO_HEALTH_SHOWS_PID: the real-IIS workflow's way to see every backend process answer."""
    assert client.get("/health/").has_header("X-Backend-Pid") is False
    settings.HEALTH_SHOWS_PID = True
    assert client.get("/health/")["X-Backend-Pid"] == str(os.getpid())
