"""The small HTML pages a merchant sees at the end of an install, or when an install request is refused."""

from __future__ import annotations

from flask import render_template_string
from sqlalchemy.orm import Session

from connector.models import Store
from connector.web import services
from connector.web.app.dashboard import influencer_rows, recent_conversions
from connector.web.app.snippet import snippet

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
.ok{color:#1a7f37}.bad{color:#cf222e}dt{font-weight:600}dd{margin:0 0 .6rem}
table{border-collapse:collapse;font-size:14px}th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #d0d7de}
</style></head>
<body><h1 class="{{ tone }}">{{ title }}</h1>{{ body|safe }}</body></html>"""

_STORE = """<dl>
<dt>Store</dt><dd>{{ store.domain }} ({{ store.platform }})</dd>
<dt>Status</dt><dd>{{ store.status }}{% if store.status_reason %}: {{ store.status_reason }}{% endif %}</dd>
<dt>Webhooks</dt><dd>{% if store.setup_pending %}being registered{% if store.setup_error %} (last try: {{ store.setup_error }}){% endif %}{% else %}registered{% endif %}</dd>
</dl><p>Orders from this store now become influencer conversions.</p>"""


_DASHBOARD = """<h2>Influencers</h2>{% if not influencers %}<p>None yet: the campaign platform registers them.</p>
{% else %}<table><tr><th>Influencer</th><th>Link</th><th>Code</th><th>Clicks</th><th>Orders</th><th>Revenue</th></tr>
{% for i in influencers %}<tr><td>{{ i.tracking_id }}</td><td><code>{{ i.link }}</code></td>
<td>{{ i.code or "-" }}{% if i.code %} <small>({{ i.code_status }})</small>{% endif %}</td><td>{{ i.clicks }}</td>
<td>{{ i.orders }}</td><td>{{ i.revenue }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Latest conversions</h2>{% if not conversions %}<p>None yet.</p>{% else %}<table>
<tr><th>When</th><th>Type</th><th>Influencer</th><th>Amount</th><th>Delivery</th></tr>
{% for c in conversions %}<tr><td>{{ c.created_at.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ c.type[11:] }}</td>
<td>{{ c.tracking_id or "-" }}</td><td>{{ c.amount }} {{ c.currency }}</td><td>{{ c.status }}{% if c.attempts %}
({{ c.attempts }} attempts){% endif %}</td></tr>{% endfor %}</table>{% endif %}"""


def store_page(store: Store, *, session: Session, title: str = "The connector is installed"):
    """The merchant's page: the store, the line its theme needs (WooCommerce), its influencers and conversions.

    Read in the caller's session: a second one would wait on SQLite's lock for the first to end.
    """
    svc = services()
    script = snippet(svc.settings, store) if store.platform == "woocommerce" else None
    influencers = influencer_rows(session, store, svc.settings.public_url)
    conversions = recent_conversions(session, store)
    body = render_template_string(_STORE + _SCRIPT + _DASHBOARD, store=store, script=script,
                                  influencers=influencers, conversions=conversions)
    tone = "ok" if store.status == "active" else "bad"
    return render_template_string(_LAYOUT, title=title, tone=tone, body=body), 200


def error_page(status: int, title: str, message: str):
    body = render_template_string("<p>{{ message }}</p>", message=message)
    return render_template_string(_LAYOUT, title=title, tone="bad", body=body), status


_SCRIPT = """{% if script %}<p>One step is left: so that clicks on influencers' links are credited, add this line to
your theme (for example with a "header and footer scripts" plugin, in the page footer):</p>
<pre style="white-space:pre-wrap;background:#f6f8fa;padding:.75rem">{{ script }}</pre>
{% else %}<p>Clicks on influencers' links are followed by the connector's web pixel: nothing else needs doing here.</p>
{% endif %}"""


def installed_page(store_key: str, *, script: str | None = None):
    """That the install went through, and nothing more about the store (but the line its theme needs)."""
    body = render_template_string("<p>{{ store }} is connected. Orders from it now become influencer conversions."
                                  "</p>" + _SCRIPT, store=store_key, script=script)
    return render_template_string(_LAYOUT, title="The connector is installed", tone="ok", body=body), 200
