from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from . import views

app_name = "dashboard"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html",
            redirect_authenticated_user=True,
            next_page=reverse_lazy("dashboard:inbox"),
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path("", views.inbox, name="inbox"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/after/<int:after>/", views.messages_after, name="messages_after"),
    path("c/<int:pk>/takeover/", views.take_over, name="take_over"),
    path("c/<int:pk>/handback/", views.hand_back, name="hand_back"),
    path("c/<int:pk>/resolve/", views.resolve, name="resolve"),
    path("c/<int:pk>/send/", views.send, name="send"),
    path("c/<int:pk>/assign/", views.assign, name="assign"),
    path("c/<int:pk>/tags/", views.tag, name="tags"),
    path("search/", views.search_page, name="search"),
    path("export/<str:name>", views.export_file, name="export"),
    path("stores/", views.stores, name="stores"),
    path("stores/<int:pk>/settings/", views.store_settings, name="store_settings"),
    path("reports/", include("chatbot.reports.urls")),
]
