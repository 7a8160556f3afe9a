"""Pages of the fake internet built like the real ones, for browser mode (issue 16).

In: the site plan's pages (``sites.plan``) and the web root. Out: the hosts a browser needs
beyond the catalogue (``support_targets``: only for the site plan, never measured as targets),
and ``write``: richer HTML for two catalogue pages plus the files they pull in —

- the agency's YouTube channel (``www.youtube.com/@MinisterioLab``): its player script from a
  static CDN host (``s.ytimg.com``), thumbnails from the image host (``i.ytimg.com``), the
  channel avatar (``yt3.ggpht.com``), two videos from per-request media hosts
  (``rr3---sn-nclab01.googlevideo.com`` style), and an ad and an analytics script
  (``googleads.g.doubleclick.net``, ``www.google-analytics.com``);
- the admin console (``business.facebook.com``): its script from ``static.xx.fbcdn.net`` calls
  the API host (``graph.facebook.com``) and opens a websocket to ``edge-chat.facebook.com``
  (``wsecho`` behind nginx's ``/__lab/ws``).

The pages keep their title and body words, so the probe's own page checks read them as before.
Images are real PNGs and the videos real (silent) WAV files served with their media types: a
cross-origin response of the wrong type would be dropped by the browser (ORB) and read as a
failure on a clean network.
"""

from __future__ import annotations

import html
import struct
import zlib
from pathlib import Path

from netcheck.lab.sites import Site
from netcheck.models import Expect, Target

WS_HOST = "127.0.0.1"
WS_PORT = 9180
WS_PATH = "/__lab/ws"
CHANNEL = ("www.youtube.com", "/@MinisterioLab")
CONSOLE = ("business.facebook.com", "/")
STATIC_CDN = "s.ytimg.com"
MEDIA_HOSTS = ("rr3---sn-nclab01.googlevideo.com", "rr5---sn-nclab02.googlevideo.com")
API_HOST = "graph.facebook.com"
WS_SERVICE_HOST = "edge-chat.facebook.com"
AD_HOST = "googleads.g.doubleclick.net"
ANALYTICS_HOST = "www.google-analytics.com"
#: hosts the pages use that the catalogue does not list: (host, service it is grouped with)
SUPPORT_HOSTS: tuple[tuple[str, str], ...] = (
    (STATIC_CDN, "youtube"),
    *((h, "youtube") for h in MEDIA_HOSTS),
    (WS_SERVICE_HOST, "facebook"),
    (AD_HOST, "adtech"),
    (ANALYTICS_HOST, "adtech"),
)
PLAYER_JS = "/yts/jsbin/player-lab.js"
CONSOLE_JS = "/rsrc.php/v3/lab-console.js"
API_PATH = "/v19.0/me/accounts"


def support_targets() -> list[Target]:
    """Pseudo-targets that give each support host a site (address, certificate, DNS name)."""
    return [
        Target(url=f"https://{host}/", service=service, function="media", expect=Expect())
        for host, service in SUPPORT_HOSTS
    ]


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, made with zlib (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack("!I", len(data)) + body + struct.pack("!I", zlib.crc32(body))

    row = b"\0" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)
    head = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """Silent 8-bit mono PCM: the smallest media file every Chromium build plays."""
    frames = b"\x80" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


_STYLE = (
    "body{font-family:sans-serif;margin:0;background:#f9f9f9;color:#0f0f0f}"
    "header{display:flex;gap:16px;align-items:center;padding:16px 24px;background:#fff}"
    "header img{width:72px;height:72px;border-radius:50%}"
    ".grid{display:flex;gap:16px;padding:0 24px;flex-wrap:wrap}"
    "figure{margin:0;width:320px;background:#fff;padding:8px}"
    "figure img{width:320px;height:180px;display:block}"
    "video{width:320px;height:40px}#player,#api,#live{padding:4px 24px}"
)


def channel_html(title: str, body: str) -> str:
    t, b = html.escape(title), html.escape(body)
    figures = "".join(
        f'<figure><img alt="" src="https://i.ytimg.com/vi/lab0{n}/hqdefault.png">'
        f'<video controls muted preload="auto" '
        f'src="https://{host}/videoplayback/lab0{n}.wav?expire=1&amp;itag=18"></video>'
        f"<figcaption>Conferencia de prensa {n}</figcaption></figure>"
        for n, host in enumerate(MEDIA_HOSTS, start=1)
    )
    return (
        f'<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8"><title>{t}</title>'
        f"<style>{_STYLE}</style>"
        f'<script defer src="https://{STATIC_CDN}{PLAYER_JS}"></script>'
        f'<script async src="https://{AD_HOST}/pagead/show_ads.js"></script>'
        f'<script async src="https://{ANALYTICS_HOST}/analytics.js"></script></head>\n'
        f'<body><header><img alt="" src="https://yt3.ggpht.com/ytc/lab-avatar.png">'
        f"<h1>{t}</h1></header><p>{b}</p>"
        f'<p id="player">Cargando el reproductor...</p><div class="grid">{figures}</div>'
        "</body></html>\n"
    )


def console_html(title: str, body: str) -> str:
    t, b = html.escape(title), html.escape(body)
    return (
        f'<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8"><title>{t}</title>'
        f"<style>{_STYLE}</style>"
        f'<script defer src="https://static.xx.fbcdn.net{CONSOLE_JS}"></script></head>\n'
        f"<body><header><h1>{t}</h1></header><p>{b}</p>"
        '<p id="api">API: ...</p><p id="live">En vivo: ...</p></body></html>\n'
    )


PLAYER = """
document.getElementById('player').textContent = 'Reproductor listo';
for (const video of document.querySelectorAll('video')) {
  const broken = () => {
    video.closest('figure').querySelector('figcaption').textContent =
      'Se produjo un error. Vuelve a intentarlo más tarde.';
  };
  if (video.error) broken(); else video.addEventListener('error', broken);
}
"""
CONSOLE_SCRIPT = f"""
const show = (id, text) => {{ document.getElementById(id).textContent = text; }};
fetch('https://{API_HOST}{API_PATH}?fields=name')
  .then((r) => r.json())
  .then((d) => show('api', 'API: ' + d.data[0].name))
  .catch(() => show('api', 'API: sin respuesta'));
const ws = new WebSocket('wss://{WS_SERVICE_HOST}{WS_PATH}');
ws.onmessage = (e) => show('live', 'En vivo: ' + e.data);
ws.onerror = () => show('live', 'En vivo: sin conexion');
"""
API_JSON = '{"data": [{"id": "1", "name": "Ministerio Lab"}]}\n'


def _put(www: Path, host: str, path: str, data: bytes | str) -> None:
    target = www / host / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        target.write_text(data, "utf-8")
    else:
        target.write_bytes(data)


def write(plan: list[Site], www: Path) -> None:
    """The rich pages (over what ``nginx.write_pages`` wrote) and every file they pull in."""
    for (host, path), make in ((CHANNEL, channel_html), (CONSOLE, console_html)):
        site = next((s for s in plan if s.host == host), None)
        page = next((p for p in site.pages if p.path == path), None) if site else None
        if page is not None:
            _put(www, host, f"{path.rstrip('/')}/index.html", make(page.title, page.body))
    _put(www, STATIC_CDN, PLAYER_JS, PLAYER)
    for n in (1, 2):
        _put(www, "i.ytimg.com", f"/vi/lab0{n}/hqdefault.png", png(320, 180, (200, 40, 40 * n)))
    _put(www, "yt3.ggpht.com", "/ytc/lab-avatar.png", png(88, 88, (30, 90, 160)))
    for n, host in enumerate(MEDIA_HOSTS, start=1):
        _put(www, host, f"/videoplayback/lab0{n}.wav", wav())
    _put(www, "static.xx.fbcdn.net", CONSOLE_JS, CONSOLE_SCRIPT)
    _put(www, API_HOST, API_PATH, API_JSON)
    _put(www, AD_HOST, "/pagead/show_ads.js", "window.labAds = true;\n")
    _put(www, ANALYTICS_HOST, "/analytics.js", "window.labAnalytics = true;\n")


def nginx_lines() -> list[str]:
    """What every lab site adds to its nginx ``server``: CORS for API calls, and the
    websocket endpoint proxied to ``wsecho``."""
    return [
        '        add_header Access-Control-Allow-Origin "*";',
        f"        location = {WS_PATH} {{ proxy_pass http://{WS_HOST}:{WS_PORT}; "
        "proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
        'proxy_set_header Connection "upgrade"; proxy_read_timeout 300s; }',
    ]


#: media types nginx names by extension (the rest stays text/html)
NGINX_TYPES = (
    "    types { text/html html; application/javascript js; image/png png; audio/wav wav; "
    "application/json json; text/css css; }"
)
