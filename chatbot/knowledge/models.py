"""A store's knowledge base: short articles the assistant is grounded on, and their search index
(passages with their embeddings), which follows the articles in the background."""

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


class ArticleIndex(models.Model):
    """Which version of an article its passages were made from: stale when the article changed."""

    article = models.OneToOneField(Article, on_delete=models.CASCADE, related_name="index")
    source_updated = models.DateTimeField(help_text="The article's `updated` when indexed.")
    indexed_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Index of {self.article}"


class Passage(models.Model):
    """One section (or part of a long section) of an article, embedded for search.

    Vectors are unit-length float32 arrays stored as bytes: one of the heading and text, one of the
    heading alone (headings are often phrased like the question they answer).
    """

    store = models.ForeignKey("stores.Store", on_delete=models.CASCADE, related_name="passages")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=300)
    text = models.TextField()
    embedding = models.BinaryField()
    heading_embedding = models.BinaryField()

    class Meta:
        ordering = ["article", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "position"], name="unique_passage_position_per_article"
            )
        ]
        indexes = [models.Index(fields=["store", "article"])]

    def __str__(self):
        return f"{self.article.title} › {self.heading}"
