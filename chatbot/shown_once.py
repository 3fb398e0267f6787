"""A new secret (API key, identity or webhook signing secret) is shown once, in the very response
that created it: never stored in a flash message (which may travel in a cookie), never rendered
back into a form."""

from django.contrib import admin
from django.template.response import TemplateResponse


def secret_page(request, *, title: str, secret: str, usage: str, back_url: str):
    """An admin page showing `secret` with what it is for; not cached anywhere."""
    context = {
        **admin.site.each_context(request),
        "title": title,
        "secret": secret,
        "usage": usage,
        "back_url": back_url,
    }
    response = TemplateResponse(request, "admin/shown_once.html", context)
    response["Cache-Control"] = "no-store"
    return response
