# expect: CW303
from django.http import JsonResponse
from django.views.decorators.http import require_POST
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def wipe_cache(request):  # finding: CW303
    return JSONResponse({"wiped": True})


async def status(request):
    return JSONResponse({"ok": True})


app = Starlette(routes=[Route("/cache", wipe_cache, methods=["DELETE"]), Route("/status", status)])


@require_POST
def transfer(request):  # finding: CW303
    return JsonResponse({"done": True})
