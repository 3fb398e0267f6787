from django.shortcuts import render

from chatbot.stores.models import Store

from . import demo


def home(request):
    """The demo shop: a store page that embeds the chat widget with one script tag."""
    store = Store.objects.filter(slug=demo.SLUG).first()
    return render(request, "shop/home.html", {"store": store, "products": demo.PRODUCTS})
