"""The REST API, /api/v1/. Every query is scoped to the API key's store, so another store's object
is simply not found (404)."""

import uuid

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from chatbot.conversations import outcomes, services
from chatbot.conversations.models import Conversation
from chatbot.integrations import identity
from chatbot.integrations.models import WebhookSubscription
from chatbot.knowledge.models import Article
from chatbot.reports import metrics

from . import errors, imports, waiting
from . import serializers as s
from .authentication import ApiKeyAuthentication
from .permissions import HasScope
from .renderers import TranscriptTextRenderer
from .throttling import ApiKeyRateThrottle


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Pages(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class StoreScoped(viewsets.GenericViewSet):
    """API key auth, scopes, per-key rate limit, JSON, one error shape, the key's store only."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    pagination_class = Pages
    lookup_value_regex = "[0-9]+"
    model = None  # what the view lists; always filtered to the key's store

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # building the schema: no key, no store
            return self.model.objects.none()
        return self.model.objects.filter(store=self.store)

    @property
    def store(self):
        return self.request.auth.store

    def get_exception_handler(self):
        return errors.exception_handler

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self.request, "auth", None) is not None:
            context["store"] = self.store
        return context


def _validated(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _in_range(queryset, filters: dict):
    if "created_after" in filters:
        queryset = queryset.filter(created__gte=filters["created_after"])
    if "created_before" in filters:
        queryset = queryset.filter(created__lt=filters["created_before"])
    return queryset


DATE_FILTERS = [
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="Created at or after."),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="Created before."),
]


class ConversationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, StoreScoped
):
    serializer_class = s.ConversationSerializer
    model = Conversation

    def get_queryset(self):
        return super().get_queryset().order_by("-created", "-id")

    @extend_schema(
        parameters=DATE_FILTERS
        + [
            OpenApiParameter("state", str, enum=Conversation.State.values),
            OpenApiParameter("shopper_id", str),
            OpenApiParameter("verified_identity", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        filters = _validated(s.ConversationFilterSerializer, self.request.query_params)
        for field in ("state", "shopper_id", "verified_identity"):
            if field in filters:
                queryset = queryset.filter(**{field: filters[field]})
        return _in_range(queryset, filters)

    @extend_schema(
        request=s.ConversationCreateSerializer, responses={201: s.ConversationSerializer}
    )
    def create(self, request, *args, **kwargs):
        data = _validated(s.ConversationCreateSerializer, request.data)
        try:
            verified = identity.verify(
                self.store,
                data.get("customer_id", ""),
                data.get("customer_signature", ""),
                data.get("identity_token", ""),
            )
        except identity.IdentityError as error:
            field = "identity_token" if data.get("identity_token") else "customer_signature"
            raise serializers.ValidationError({field: [str(error)]}) from None
        conversation = Conversation.objects.create(
            store=self.store,
            shopper_id=data["shopper_id"],
            verified_identity=verified.customer_id,
        )
        return Response(s.ConversationSerializer(conversation).data, status=201)

    @extend_schema(
        request=s.CloseSerializer,
        responses={
            200: s.ConversationSerializer,
            400: OpenApiResponse(description="The outcome contradicts the conversation's history."),
            409: OpenApiResponse(description="The conversation is already closed."),
        },
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the conversation by the conversation rules (an escalated one cannot be resolved
        by the bot, ...): the widget is told it ended, the inbox updates, and conversation.resolved
        (and csat.submitted) are sent. 409 if it is already closed."""
        data = _validated(s.CloseSerializer, request.data)
        conversation = self.get_object()
        try:
            closed = outcomes.close(conversation.pk, data["outcome"], data.get("csat"))
        except outcomes.AlreadyClosed as refused:
            raise Conflict(str(refused)) from None
        except outcomes.CloseRefused as refused:
            raise serializers.ValidationError({"outcome": [str(refused)]}) from None
        return Response(s.ConversationSerializer(closed).data)

    @extend_schema(methods=["get"], responses=s.ReplySerializer(many=True))
    @extend_schema(
        methods=["post"],
        request=s.MessageCreateSerializer,
        parameters=[s.SendQuerySerializer],
        responses={
            202: s.SentSerializer,
            200: OpenApiResponse(
                s.SentSerializer,
                description="With wait=true: once the reply is stored, the wait timed out, or "
                "staff have the conversation. With stream=true: text/event-stream.",
            ),
        },
    )
    @action(detail=True, methods=["get", "post"])
    def messages(self, request, pk=None):
        """GET: the conversation's messages, oldest first. POST: a shopper message; the bot
        answers it in the background (202), or `?wait=true` answers once the reply is stored, or
        `?stream=true` streams it as server-sent events (message, typing, delta, done|idle|error|
        timeout)."""
        conversation = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(conversation.messages.order_by("pk"))
            return self.get_paginated_response(s.ReplySerializer(page, many=True).data)
        query = _validated(s.SendQuerySerializer, request.query_params)
        data = _validated(s.MessageCreateSerializer, request.data)
        client_msg_id = data.get("client_msg_id") or f"api-{uuid.uuid4()}"
        message, created = services.receive_shopper_message(
            conversation, client_msg_id, data["text"]
        )
        if query["stream"]:
            response = StreamingHttpResponse(
                waiting.server_sent_events(conversation, message, not created, query["timeout"]),
                content_type="text/event-stream",
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        if query["wait"]:
            return StreamingHttpResponse(
                waiting.final_answer(conversation, message, not created, query["timeout"]),
                content_type="application/json",
            )
        services.request_reply(conversation.pk)
        conversation.refresh_from_db(fields=["state"])
        body = {
            "message": s.MessageSerializer(message).data,
            "duplicate": not created,
            "reply": None,
            "state": conversation.state,
            "timed_out": False,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: s.TranscriptSerializer, (200, "text/plain"): str})
    @action(
        detail=True, renderer_classes=[JSONRenderer, TranscriptTextRenderer], url_path="transcript"
    )
    def transcript(self, request, pk=None):
        """The whole conversation; `?format=txt` (or Accept: text/plain) for plain text."""
        conversation = self.get_object()
        return Response(_transcript(conversation, conversation.messages.order_by("pk")))


def _transcript(conversation: Conversation, messages) -> dict:
    return s.TranscriptSerializer({"conversation": conversation, "messages": messages}).data


class TranscriptViewSet(mixins.ListModelMixin, StoreScoped):
    """Export transcripts of many conversations at once, filtered like the conversation list."""

    serializer_class = s.TranscriptSerializer
    model = Conversation

    def get_queryset(self):
        return super().get_queryset().order_by("created", "id").prefetch_related("messages")

    def filter_queryset(self, queryset):
        filters = _validated(s.ConversationFilterSerializer, self.request.query_params)
        if "state" in filters:
            queryset = queryset.filter(state=filters["state"])
        return _in_range(queryset, filters)

    @extend_schema(
        parameters=DATE_FILTERS + [OpenApiParameter("state", str, enum=Conversation.State.values)]
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        data = [_transcript(c, sorted(c.messages.all(), key=lambda m: m.pk)) for c in page]
        return self.get_paginated_response(data)


class ArticleViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    StoreScoped,
):
    """Knowledge-base articles. Every saved article is re-indexed in the background (the
    knowledge domain's post_save signal queues it); a deleted one leaves the index with it."""

    serializer_class = s.ArticleSerializer
    model = Article

    def get_queryset(self):
        return super().get_queryset().order_by("title", "id")

    def perform_create(self, serializer):
        serializer.save(store=self.store)

    @extend_schema(
        request={
            "application/json": s.ImportSerializer,
            "multipart/form-data": s.ImportSerializer,
        },
        responses={200: s.ImportResultSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[JSONParser, MultiPartParser, FormParser],
    )
    def bulk_import(self, request):
        """Create or update (by title) many articles from Markdown (one `# Title` per article),
        CSV (columns title, body) or JSON (`[{"title", "body"}]`)."""
        data = _validated(s.ImportSerializer, request.data)
        parsed = imports.read(data)
        created, updated, articles = imports.save(self.store, parsed)
        body = {
            "created": created,
            "updated": updated,
            "articles": s.ArticleSerializer(articles, many=True).data,
        }
        return Response(body)


class MetricsViewSet(StoreScoped):
    @extend_schema(parameters=[s.MetricsQuerySerializer], responses=s.MetricsSerializer)
    def list(self, request):
        """The store's figures over days `start`..`end` (UTC, both included): resolution rate
        (by the bot), cost per dialogue, cost per resolution and more, in total and per day."""
        query = _validated(s.MetricsQuerySerializer, request.query_params)
        report = metrics.report(query["start"], query["end"], stores=[self.store])
        report["currency"] = self.store.currency
        del report["stores"]
        return Response(s.MetricsSerializer(report).data)


class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    StoreScoped,
):
    serializer_class = s.WebhookSerializer
    model = WebhookSubscription

    @extend_schema(responses={201: s.WebhookCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """Subscribe a URL to events. The answer holds the signing secret: it is shown only here."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = serializer.save(store=self.store)
        return Response(s.WebhookCreatedSerializer(subscription).data, status=201)

    @extend_schema(responses=s.DeliverySerializer(many=True))
    @action(detail=True)
    def deliveries(self, request, pk=None):
        """The delivery log: every event sent to this URL, newest first, with each attempt."""
        subscription = self.get_object()
        page = self.paginate_queryset(subscription.deliveries.order_by("-created", "-id"))
        return self.get_paginated_response(s.DeliverySerializer(page, many=True).data)
