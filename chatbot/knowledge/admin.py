from django.contrib import admin

from .models import Article


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "store", "updated"]
    list_filter = ["store"]
    search_fields = ["title", "body"]
