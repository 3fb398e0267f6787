from django.contrib import admin

from .models import Article, Passage


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "store", "updated"]
    list_filter = ["store"]
    search_fields = ["title", "body"]


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    list_display = ["article", "position", "heading"]
    list_filter = ["store"]
    fields = ["store", "article", "position", "heading", "text"]
    readonly_fields = fields
