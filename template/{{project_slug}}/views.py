from django.http import HttpResponse


async def health(request):
    """Answers without touching the database: what `invoke deploy` and load balancers poll."""
    return HttpResponse("ok", content_type="text/plain")
