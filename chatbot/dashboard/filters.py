"""The inbox filters (state, store, assignee, tag, date range), shared by the inbox and the exports.

Choices only ever offer the user's own stores and their tags and colleagues, and the query starts
from the user's conversations, so a forged id filters to nothing rather than to another store.
"""

from django import forms
from django.db.models import Exists, OuterRef

from chatbot.conversations.models import Conversation, Message, Tag

from . import access

OPEN = "open"
ALL = "all"
ME = "me"
NOBODY = "none"
OPEN_STATES = [Conversation.State.BOT, Conversation.State.HUMAN, Conversation.State.ESCALATED]


class ConversationFilter(forms.Form):
    state = forms.ChoiceField(required=False)
    store = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    assignee = forms.ChoiceField(required=False)
    tag = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, user, data=None):
        super().__init__(data)
        self.user = user
        stores = access.stores_for(user)
        self.fields["state"].choices = [
            (OPEN, "Open"),
            *Conversation.State.choices,
            (ALL, "All"),
        ]
        self.fields["store"].choices = [("", "All stores"), *stores.values_list("pk", "name")]
        people = (
            access.colleagues_of(user).values_list("pk", "username")
            if user.is_authenticated
            else []
        )
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            (ME, "Me"),
            (NOBODY, "Nobody"),
            *[(str(pk), name) for pk, name in people],
        ]
        tags = Tag.objects.filter(store__in=stores).select_related("store")
        self.fields["tag"].choices = [
            ("", "Any tag"),
            *[(t.pk, f"{t.name} ({t.store.name})") for t in tags],
        ]

    def conversations(self):
        """The user's dialogues that pass the filters, newest activity first."""
        wrote = Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.SHOPPER)
        found = (
            access.conversations_for(self.user)
            .filter(Exists(wrote))
            .select_related("store", "staff_info__assignee")
            .prefetch_related("staff_info__tags")
            .order_by("-last_activity")
        )
        if not self.is_bound:
            return found.filter(state__in=OPEN_STATES)
        if not self.is_valid():
            return found.none()  # e.g. another store's id: the form shows the error
        data = self.cleaned_data
        state = data["state"] or OPEN
        if state == OPEN:
            found = found.filter(state__in=OPEN_STATES)
        elif state != ALL:
            found = found.filter(state=state)
        if data["store"]:
            found = found.filter(store_id=data["store"])
        if data["assignee"] == ME:
            found = found.filter(staff_info__assignee=self.user)
        elif data["assignee"] == NOBODY:
            found = found.exclude(staff_info__assignee__isnull=False)
        elif data["assignee"]:
            found = found.filter(staff_info__assignee_id=int(data["assignee"]))
        if data["tag"]:
            found = found.filter(staff_info__tags=data["tag"])
        if data["start"]:
            found = found.filter(created__date__gte=data["start"])
        if data["end"]:
            found = found.filter(created__date__lte=data["end"])
        return found

    def as_client_filter(self) -> dict:
        """The filters in force, for the page script that applies them to live updates."""
        data = self.cleaned_data if self.is_valid() else {}
        assignee = data.get("assignee") or ""
        return {
            "state": data.get("state") or OPEN,
            "open_states": OPEN_STATES,
            "store": data.get("store"),
            "assignee": self.user.pk if assignee == ME else assignee,
            "tag": data.get("tag"),
            "dated": bool(data.get("start") or data.get("end")),
        }
