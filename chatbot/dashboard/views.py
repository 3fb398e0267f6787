"""Staff pages: the inbox, a conversation's transcript and the actions on it, search, exports and
store settings. Every object is looked up through `access`, so another store's ids answer 404;
every change is a POST with a CSRF token; every text reaches the page through autoescaping."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from chatbot.conversations import outcomes
from chatbot.conversations.costs import reply_cost
from chatbot.conversations.models import ConversationInfo, Message
from chatbot.stores.models import CannedResponse, SupportHours

from . import access, export, live, search, staffing
from .filters import ConversationFilter
from .forms import CannedResponseForm, StaffMessageForm, StoreSettingsForm, SupportHoursForm

INBOX_LIMIT = 200
staff_required = login_required(login_url=reverse_lazy("dashboard:login"))


@staff_required
def inbox(request):
    filters = ConversationFilter(request.user, request.GET or None)
    shown = live.with_summary(filters.conversations())[:INBOX_LIMIT]
    return render(
        request,
        "dashboard/inbox.html",
        {
            "filters": filters,
            "rows": [live.summary(c) for c in shown],
            "client_filter": filters.as_client_filter(),
            "export_query": request.GET.urlencode(),
        },
    )


def _transcript(conversation, after: int = 0):
    """Messages (newer than `after`) with their author and, for bot replies, their cost and how
    they came about (route, retrieved passages, the one cited)."""
    rows = []
    price = conversation.store.hourly_price
    stored = (
        conversation.messages.filter(pk__gt=after)
        .select_related("staff_author__user", "trace")
        .prefetch_related("trace__passages")
    )
    for message in stored.order_by("pk"):
        author = getattr(message, "staff_author", None)
        rows.append(
            {
                "message": message,
                "author": author.user.get_username() if author and author.user else "",
                "trace": getattr(message, "trace", None),
                "cost": reply_cost(message.shared_engine_seconds, price)
                if message.role == Message.Role.BOT
                else None,
            }
        )
    return rows


@staff_required
def conversation(request, pk):
    found = access.conversation_for(request.user, pk)
    info = ConversationInfo.objects.filter(conversation=found).first()
    transcript = _transcript(found)
    return render(
        request,
        "dashboard/conversation.html",
        {
            "conversation": found,
            "info": info,
            "transcript": transcript,
            "total_cost": sum(row["cost"] or 0 for row in transcript),
            "colleagues": access.colleagues(found.store),
            "canned": CannedResponse.objects.filter(store=found.store),
            "tags": ", ".join(t.name for t in info.tags.all()) if info else "",
            "form": StaffMessageForm(),
            "currency": found.store.currency,
            "page": {"conversation": found.pk},
        },
    )


@staff_required
def messages_after(request, pk, after):
    """The transcript rows newer than message `after`, for the live page to append."""
    found = access.conversation_for(request.user, pk)
    return render(
        request,
        "dashboard/_messages.html",
        {"transcript": _transcript(found, after), "currency": found.store.currency},
    )


def _back(pk):
    return redirect(reverse("dashboard:conversation", args=[pk]))


@staff_required
@require_POST
def take_over(request, pk):
    found = access.conversation_for(request.user, pk)
    if not outcomes.take_over(found, request.user):
        messages.info(request, "A person is already answering this conversation.")
    return _back(pk)


@staff_required
@require_POST
def hand_back(request, pk):
    found = access.conversation_for(request.user, pk)
    if not outcomes.hand_back(found):
        messages.info(request, "The bot is already answering this conversation.")
    return _back(pk)


@staff_required
@require_POST
def resolve(request, pk):
    found = access.conversation_for(request.user, pk)
    if not outcomes.resolve_by_staff(found, request.user):
        messages.error(request, "Only a conversation handed to staff can be resolved by staff.")
    return _back(pk)


@staff_required
@require_POST
def send(request, pk):
    found = access.conversation_for(request.user, pk)
    form = StaffMessageForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors["text"])
        staffing.send_staff_message(found, request.user, form.cleaned_data["text"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(pk)


@staff_required
@require_POST
def assign(request, pk):
    found = access.conversation_for(request.user, pk)
    raw = request.POST.get("assignee", "")
    try:
        staffing.assign(found, int(raw) if raw.isdigit() else None)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(pk)


@staff_required
@require_POST
def tag(request, pk):
    found = access.conversation_for(request.user, pk)
    try:
        staffing.set_tags(found, staffing.parse_tags(request.POST.get("tags", "")))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(pk)


@staff_required
def search_page(request):
    query = request.GET.get("q", "")[:200]
    results = search.search(access.conversations_for(request.user), query)
    return render(request, "dashboard/search.html", {"query": query, "results": results})


EXPORTS = {
    "conversations.csv": (export.conversations_csv, "text/csv; charset=utf-8"),
    "messages.csv": (export.messages_csv, "text/csv; charset=utf-8"),
    "conversations.json": (export.conversations_json, "application/json"),
}


@staff_required
def export_file(request, name):
    if name not in EXPORTS:
        raise Http404("No such export.")
    write, content_type = EXPORTS[name]
    filters = ConversationFilter(request.user, request.GET or None)
    response = StreamingHttpResponse(write(filters.conversations()), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="parley-{name}"'
    return response


@staff_required
def store_settings(request, pk):
    store = access.store_for(request.user, pk)
    if not access.is_admin(request.user, store):
        raise PermissionDenied("Only the store's admins change its settings.")
    hours = SupportHours.objects.filter(store=store).first() or SupportHours(store=store)
    settings_form = StoreSettingsForm(instance=store, prefix="store")
    hours_form = SupportHoursForm(instance=hours, prefix="hours")
    canned_form = CannedResponseForm(prefix="canned")
    if request.method == "POST":
        section = request.POST.get("section")
        if section == "store":
            settings_form = StoreSettingsForm(request.POST, instance=store, prefix="store")
            saved = settings_form.is_valid() and settings_form.save()
        elif section == "hours":
            hours_form = SupportHoursForm(request.POST, instance=hours, prefix="hours")
            saved = hours_form.is_valid() and hours_form.save()
        elif section == "canned":
            canned_form = CannedResponseForm(
                request.POST, instance=CannedResponse(store=store), prefix="canned"
            )
            saved = canned_form.is_valid() and canned_form.save()
        elif section == "delete-canned":
            canned = get_object_or_404(CannedResponse, store=store, pk=request.POST.get("canned"))
            saved = canned.delete()
        else:
            saved = False
        if saved:
            messages.success(request, "Saved.")
            return redirect(reverse("dashboard:store_settings", args=[store.pk]))
    return render(
        request,
        "dashboard/store_settings.html",
        {
            "store": store,
            "settings_form": settings_form,
            "hours_form": hours_form,
            "canned_form": canned_form,
            "canned": CannedResponse.objects.filter(store=store),
            "members": store.memberships.select_related("user").order_by("user__username"),
        },
    )


@staff_required
def stores(request):
    """The user's stores, with a settings link where they are an admin."""
    rows = [
        {"store": store, "admin": access.is_admin(request.user, store)}
        for store in access.stores_for(request.user).order_by("name")
    ]
    return render(request, "dashboard/stores.html", {"rows": rows})
