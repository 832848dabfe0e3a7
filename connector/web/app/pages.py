"""The small HTML pages a merchant sees at the end of an install, or when an install request is refused."""

from __future__ import annotations

from flask import render_template_string

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
.ok{color:#1a7f37}.bad{color:#cf222e}dt{font-weight:600}dd{margin:0 0 .6rem}
table{border-collapse:collapse;font-size:14px}th,td{text-align:left;padding:.25rem .6rem;border-bottom:1px solid #d0d7de}
</style></head>
<body><h1 class="{{ tone }}">{{ title }}</h1>{{ body|safe }}</body></html>"""


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
