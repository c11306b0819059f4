"""Target (a): a bare aiohttp handler that answers every POST with the same XML: the ceiling of
an aiohttp server on one core. No signature check, no parsing."""

from __future__ import annotations

import argparse

from aiohttp import web

REPLY = (
    "<xml><ToUserName><![CDATA[oBench]]></ToUserName><FromUserName><![CDATA[gh_bench]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[ok]]></Content></xml>"
)


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text=REPLY, content_type="application/xml")


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/wechat", answer)
    app.router.add_get("/readyz", ready)
    loop = None
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
