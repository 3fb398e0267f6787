"""Static files are served by WhiteNoise: in production from `collectstatic`'s output, hashed names
cached for good and compressed; the widget's stable URL (pasted into shops' pages) stays served."""

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client, override_settings

PRODUCTION_STORAGE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
TEN_YEARS = 10 * 365 * 24 * 3600


@pytest.fixture
def collected(tmp_path):
    """The production storage, after `manage.py collectstatic` into a folder of this test's."""
    with override_settings(
        STATIC_ROOT=tmp_path, STORAGES=PRODUCTION_STORAGE, WHITENOISE_USE_FINDERS=False
    ):
        # Our own files: compressing the admin's and the API docs' would take a minute.
        others = ["admin", "rest_framework", "drf_spectacular_sidecar", "vendor"]
        call_command("collectstatic", interactive=False, verbosity=0, ignore_patterns=others)
        yield tmp_path


def test_hashed_files_are_cached_for_years_and_compressed(collected):
    url = static("parley/widget.js")
    assert url != "/static/parley/widget.js", "the manifest names files by their content"
    for encoding in ("br", "gzip"):
        response = Client().get(url, headers={"accept-encoding": encoding})
        assert response.status_code == 200
        assert response["Content-Encoding"] == encoding
        max_age = int(response["Cache-Control"].split("max-age=")[1].split(",")[0])
        assert max_age >= TEN_YEARS
        assert "immutable" in response["Cache-Control"]
        source = (collected / "parley" / "widget.js").stat().st_size
        assert int(response["Content-Length"]) < source / 2


def test_the_widgets_stable_url_is_served_with_a_short_cache(collected):
    response = Client().get("/static/parley/widget.js")
    assert response.status_code == 200
    assert b"data-key" in b"".join(response.streaming_content)
    assert "immutable" not in response["Cache-Control"]


def test_development_serves_the_source_files_without_collecting():
    response = Client().get("/static/dashboard/dashboard.css")
    assert response.status_code == 200
