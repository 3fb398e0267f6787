"""A store's knowledge base: short articles the assistant will be grounded on."""

from django.db import models


class Article(models.Model):
    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="articles")
    title = models.CharField(max_length=200)
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "title"], name="unique_article_title_per_store"
            )
        ]

    def __str__(self):
        return self.title
