"""Merchant app benchmark: the embedded page (/shopify/app and its views) in Chromium, in a store of 10,000
influencers and 100,000 orders, against an empty store measured in the same run.

The app is served by gunicorn as the Procfile's web line runs it (bench/_common.py); the page is opened in
Debian's Chromium (/usr/bin/chromium, headless) through Playwright for Python, as the Shopify admin opens it
(?shop=&id_token=). There is no internet here, so Playwright answers the two CDN scripts: App Bridge with the
stand-in standins/shopify/app_bridge.js (its fetch adds `Authorization: Bearer <token>`; the token comes from
`window.__standinIdToken`, exposed by this script, which signs a real HS256 session token with the app's
secret), Polaris with an empty script (the page stands on its own fallback styles). Each load is a fresh
browser context (nothing cached).

Per view (Home, Influencers, Orders, Deliveries, Settings, an order's why), each run measures:

- TTFB of the document (navigation timing responseStart), First Paint and First Contentful Paint (paint
  entries), "data": when every part of the view has drawn its answer (no slot busy or "Loading…");
- LCP: the last 'largest-contentful-paint' entry (buffered observer), read once the view's data is drawn;
- CLS: the sum of 'layout-shift' values without recent input (over the whole run, interactions included);
- INP, approximated by the longest Event Timing entry ('event', durationThreshold 16, and 'first-input')
  over a few real interactions made with Playwright's mouse and keyboard: switch the overview period, open
  a top influencer; Next page and typing in the search field; the Credited filter and opening an order's
  why; the Failed filter and Next; ticking a setting and typing a number, Discard; the why's breadcrumb.
  Below 16 ms Chromium reports only the first input, so a small INP is "at most" that. Each interaction's
  time until its answer is drawn (click -> data) is printed too: it includes the JSON route.
  (The admin's nav menu is drawn by Shopify outside the app's frame, so a nav click is not an input in this
  document; the page's navigation from Home to Influencers is timed as App Bridge triggers it, with a
  shopify:navigate event, and shown as click -> data only.)

Then each JSON route under /admin/api (with requests and a fresh token per request, as App Bridge sends
one) is timed ~30 times per store, interleaved: p50/p90 and large/empty ratios; pages deep in a list
(page 200 of influencers, page 2,000 of orders) show that lists are paged on the server.

The floor is an empty store (installed, nothing else) in the same database, served by the same gunicorn,
opened in the same browser, measured in rounds interleaved with the large store. The Built for Shopify
limits are judged on the large store's p75: LCP <= 2500 ms, CLS <= 0.1, INP <= 200 ms; the issue's bar is
"first paint under 1 s with 10,000 influencers and 100,000 orders".

The store's rows are written directly with bulk INSERTs (SQLAlchemy core, thousands of rows a statement), not
through webhooks and crediting: 100,000 orders through the real path (webhook, worker, crediting, delivery)
take hours here, and this benchmark measures reading them, not writing them (bench/ingest.py,
bench/attribution.py and bench/forwarder.py measure the writes). The rows have the shapes the real code
writes (connector/crediting/writes.py, connector/delivery/outbox.py, connector/worker/prune.py): each order's
attribution record is made by the real, pure connector.core.attribution.attribute_signals from promo-code,
browser-click and landing-ref signals; credited orders have a purchase conversion (its body from
connector.core.payload.conversion_body), its credit and its delivery attempts (a few retried, a few failed
after 11 attempts, the newest still pending); some are cancelled (a cancellation conversion and a negative
credit). Clicks are rows for the last 31 days (the default 30-day window and a day: older ones are pruned) and
hourly click counts for the 59 days before; influencers' clicks and orders are skewed (a few bring most). On
PostgreSQL the tables are ANALYZEd after the seeding, as autovacuum would; SQLite gets no ANALYZE (nothing in
the connector runs it).

    python bench/merchant_app.py                         # PostgreSQL, about 4 minutes
    python bench/merchant_app.py --database sqlite --runs 3
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402

from _common import (  # noqa: E402
    SHOP,
    Gunicorn,
    bench_database,
    connector_env,
    exit_cleanly_on_sigterm,
    free_port,
    percentile,
    procfile_web_argv,
    tail,
    temporary_folder,
)
from _merchant_browser import (  # noqa: E402
    API_KEY,
    APP_BRIDGE_STANDIN,
    CHROMIUM,
    VIEWPORT,
    measure_page,
    session_token,
    views,
)
from _merchant_store import EMPTY_SHOP, add_stores, analyze, sample_order, seed  # noqa: E402

#: Built for Shopify's limits (p75): LCP, CLS, INP
LIMITS = {"lcp": 2500.0, "cls": 0.1, "inp": 200.0}
FIRST_PAINT_BAR_MS = 1000.0
SLOW_ROUTE_MS = 200.0


# -- the JSON routes -------------------------------------------------------------------------------


def routes(order_id: str) -> list[tuple[str, str]]:
    return [
        ("onboarding", "/onboarding"),
        ("overview 30 days", "/overview?days=30"),
        ("overview 90 days", "/overview?days=90"),
        ("influencers page 1", "/influencers?page=1"),
        ("influencers page 200", "/influencers?page=200"),
        ("influencers search", "/influencers?q=creator0042"),
        ("orders page 1", "/orders?page=1"),
        ("orders page 2000", "/orders?page=2000"),
        ("orders credited", "/orders?show=credited"),
        ("order's why", f"/orders/{order_id}"),
        ("deliveries", "/deliveries"),
        ("deliveries failed", "/deliveries?status=failed"),
        ("settings", "/settings"),
    ]


def time_routes(base_url: str, route_list, shops: dict[str, str], requests_each: int) -> dict:
    timings: dict[tuple[str, str], list[float]] = {}
    with requests.Session() as http:
        for n in range(requests_each + 2):  # the first two rounds warm up and are not counted
            for label, path in route_list:
                for store, shop in shops.items():
                    headers = {"Authorization": f"Bearer {session_token(shop)}", "Accept": "application/json"}
                    started = time.perf_counter()
                    answer = http.get(f"{base_url}/admin/api{path}", headers=headers, timeout=60)
                    elapsed = time.perf_counter() - started
                    expected = (200, 404) if store == "empty" and path.startswith("/orders/") else (200,)
                    if answer.status_code not in expected:
                        raise SystemExit(f"GET {path} for the {store} store answered {answer.status_code}: "
                                         f"{answer.text[:300]}")
                    if n >= 2:
                        timings.setdefault((label, store), []).append(elapsed * 1000)
    return timings


# -- output ----------------------------------------------------------------------------------------


def _ms(value) -> str:
    return "    -" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:5.0f}"


def _values(results, key):
    return [r[key] for r in results if r.get(key) is not None]


def summarise(results: dict[tuple[str, str], list[dict]], labels: list[str]) -> dict:
    summary = {}
    for (store, view), runs in results.items():
        entry = {}
        for key in ("ttfb", "fp", "fcp", "data", "inp"):
            values = _values(runs, key)
            entry[key] = (percentile(values, 50), percentile(values, 75))
        lcps = [r["lcp"]["t"] for r in runs if r.get("lcp")]
        entry["lcp"] = (percentile(lcps, 50), percentile(lcps, 75))
        cls = [r["cls_final"] for r in runs]
        entry["cls"] = (percentile(cls, 50), percentile(cls, 75))
        cls = [r["cls_load"] for r in runs]
        entry["cls_load"] = (percentile(cls, 50), percentile(cls, 75))
        # the largest shifts of the run with the largest CLS: what moved, at load or after an interaction
        worst = max(runs, key=lambda r: r["cls_final"])
        entry["shifts"] = [(x["value"], x["t"], x["phase"], x["sources"])
                           for x in sorted(worst["shifts"], key=lambda x: -x["value"])[:3]]
        entry["lcp_el"] = runs[-1]["lcp"]["el"] if runs[-1].get("lcp") else None
        steps: dict[str, list[float]] = {}
        for r in runs:
            for name, value in r["steps"].items():
                steps.setdefault(name, []).append(value)
        entry["steps"] = {name: (percentile(v, 50), percentile(v, 75)) for name, v in steps.items()}
        entry["inp_first_only"] = all(r["inp_events"] == 0 for r in runs)
        summary[(store, view)] = entry
    return summary


def parse_args() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--runs", type=int, default=5, help="page loads per view and store (default 5)")
    parser.add_argument("--requests", type=int, default=30, help="requests per JSON route and store (default 30)")
    parser.add_argument("--influencers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--clicks", type=int, default=200_000, help="click rows in the last 31 days (default 200,000)")
    parser.add_argument("--click-counts", type=int, default=100_000,
                        help="hourly click-count rows 31 to 90 days back (default 100,000)")
    parser.add_argument("--views", default=None,
                        help="only these views, comma-separated (home,influencers,orders,deliveries,settings,why)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 50 or not 1 <= args.requests <= 1000 or args.influencers < 100 or args.orders < 100:
        parser.error("--runs 1..50, --requests 1..1000, at least 100 influencers and 100 orders")
    return parser, args


def browser_or_exit():
    """Playwright's sync_playwright and the stand-in App Bridge script, or exit saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("Playwright for Python is not installed (pip install 'playwright>=1.45,<2')") from None
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_playwright, APP_BRIDGE_STANDIN.read_text()


def seed_stores(url: str, args) -> tuple[str, dict]:
    """Both stores added, the large one seeded (and ANALYZEd on PostgreSQL); returns the order whose why is
    measured and what the seeding wrote and took."""
    stores = add_stores(url)
    started = time.perf_counter()
    counts, seed_times = seed(url, stores["large"], influencers=args.influencers, orders=args.orders,
                              clicks=args.clicks, click_counts=args.click_counts)
    seeded = time.perf_counter() - started
    order_tables = ("orders", "attribution_records", "conversions", "conversion_credits", "delivery_attempts")
    orders_seconds = seed_times["influencers, orders' rows built"] + sum(seed_times[t] for t in order_tables)
    if args.database == "postgresql":
        analyze(url)
    order_id = sample_order(url, stores["large"])
    return order_id, {"counts": counts, "times": seed_times, "seconds": seeded, "orders_seconds": orders_seconds}


def print_setup(args, seeding: dict, argv: list[str]) -> None:
    print(f"merchant app benchmark: {args.database}, {args.runs} loads per view and store, "
          f"{args.requests} requests per route")
    print(f"  seeded in {seeding['seconds']:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in seeding["counts"].items()))
    print(f"  of which the {args.orders:,} orders with their records, conversions, credits and attempts "
          f"(rows built and inserted) {seeding['orders_seconds']:.1f} s; "
          + ", ".join(f"{k} {v:.1f} s" for k, v in seeding["times"].items()))
    print(f"  server: {' '.join(argv[1:])}")
    print(f"  browser: {CHROMIUM} (headless, {VIEWPORT['width']}x{VIEWPORT['height']}), a fresh context per load",
          flush=True)
    print(f"  load average before measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs; the figures are "
          "for comparing with the empty store of the same run)")


def load_pages(browser, base_url: str, shops: dict[str, str], view_list, runs: int, app_bridge: str,
               results: dict[tuple[str, str], list[dict]], problems: list[str]) -> None:
    """Every view of both stores, `runs` times, the stores' order alternating from run to run."""
    # A warm-up load of each view (server caches, the browser's own start-up).
    for store, shop in shops.items():
        for view, path in view_list:
            measure_page(browser, base_url, shop, path, view, store == "large", app_bridge)
    for run in range(runs):
        for store, shop in (shops.items() if run % 2 == 0 else reversed(shops.items())):
            for view, path in view_list:
                figures = measure_page(browser, base_url, shop, path, view, store == "large", app_bridge)
                problems += [f"{store} {view}: {p}" for p in figures["problems"]]
                results.setdefault((store, view), []).append(figures)
        print(f"  run {run + 1}/{runs} done", flush=True)


def measure(args, folder: Path, argv: list[str], env, port: int, view_list, order_id: str, sync_playwright,
            app_bridge: str) -> tuple[dict, list[str], dict]:
    """The app served by gunicorn, the pages loaded in Chromium, then the JSON routes timed; returns the page
    figures, the problems the page logged and the routes' timings."""
    server = Gunicorn(argv, env, folder, folder / "gunicorn.log", port)
    results: dict[tuple[str, str], list[dict]] = {}
    problems: list[str] = []
    try:
        server.start()
        shops = {"large": SHOP, "empty": EMPTY_SHOP}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                load_pages(browser, server.url, shops, view_list, args.runs, app_bridge, results, problems)
            finally:
                browser.close()
        timings = time_routes(server.url, routes(order_id), shops, args.requests)
    except Exception:
        print(f"gunicorn log:\n{tail(folder / 'gunicorn.log', 40)}", file=sys.stderr)
        raise
    finally:
        server.stop()
    return results, problems, timings


def print_pages(summary: dict, view_list, runs: int) -> None:
    print(f"\nThe page, p50 / p75 in ms (CLS unitless), {runs} loads each; INP = the longest event "
          "timing entry over the view's interactions ('<=' when none reached 16 ms: only the first input's)")
    header = f"  {'store':<6} {'view':<12} {'TTFB':>11} {'FP':>11} {'FCP':>11} {'data':>11} {'LCP':>11} " \
             f"{'CLS load':>11} {'CLS run':>11} {'INP':>12}"
    print(header)
    for store in ("large", "empty"):
        for view, _path in view_list:
            e = summary[(store, view)]
            pair = lambda k: f"{_ms(e[k][0])} /{_ms(e[k][1])}"  # noqa: E731
            inp = f"{'<=' if e['inp_first_only'] else '  '}{_ms(e['inp'][0])}/{_ms(e['inp'][1])}"
            print(f"  {store:<6} {view:<12} {pair('ttfb')} {pair('fp')} {pair('fcp')} {pair('data')} {pair('lcp')} "
                  f"{e['cls_load'][0]:5.3f}/{e['cls_load'][1]:5.3f} {e['cls'][0]:5.3f}/{e['cls'][1]:5.3f} {inp}")
    print("\n  LCP element (last run), large store: " + ", ".join(
        f"{view} {summary[('large', view)]['lcp_el']}" for view, _p in view_list))
    print("  (data: every part of the view drawn; CLS load: until then; CLS run: the whole visit, interactions "
          "included, shifts within 500 ms of an input left out as Chromium marks them)")


def print_shifts(summary: dict, view_list) -> None:
    moved = [(store, view) for store in ("large", "empty") for view, _p in view_list
             if summary[(store, view)]["cls"][1] > 0.01]
    if moved:
        print("\nLargest layout shifts (run with the largest CLS): value, when (ms), what moved")
        for key in moved:
            for value, at, phase, sources in summary[key]["shifts"]:
                print(f"  {key[0]:<6} {key[1]:<12} {value:.3f} at {at:5.0f} {phase}: {', '.join(sources[:2])}")


def print_interactions(summary: dict, view_list) -> None:
    print("\nInteractions, click -> answer drawn, p50 / p75 ms (large | empty)")
    for view, _path in view_list:
        for name, (p50, p75) in summary[("large", view)]["steps"].items():
            other = summary[("empty", view)]["steps"].get(name)
            floor = f"{_ms(other[0])} /{_ms(other[1])}" if other else "     (n/a)"
            print(f"  {view:<12} {name:<36} {_ms(p50)} /{_ms(p75)} | {floor}")


def print_limits(summary: dict, view_list) -> dict[str, bool]:
    """Built for Shopify's limits judged on the large store's worst p75; returns whether each holds."""
    print("\nBuilt for Shopify limits on the large store's p75 (LCP <= 2500 ms, CLS <= 0.1, INP <= 200 ms)")
    verdicts = {}
    for key, label in (("lcp", "LCP"), ("cls", "CLS"), ("inp", "INP")):
        worst_view = max(view_list, key=lambda v: summary[("large", v[0])][key][1])[0]
        worst = summary[("large", worst_view)][key][1]
        verdicts[key] = worst <= LIMITS[key]
        shown = f"{worst:.3f}" if key == "cls" else f"{worst:.0f} ms"
        print(f"  {label}: worst p75 {shown} ({worst_view}) -> {'PASS' if verdicts[key] else 'FAIL'}")
    return verdicts


def print_ratios(summary: dict, view_list) -> None:
    print("\nLarge / empty store (p50)")
    for view, _path in view_list:
        large, empty = summary[("large", view)], summary[("empty", view)]
        print(f"  {view:<12} FCP {large['fcp'][0] / empty['fcp'][0]:4.2f}  LCP {large['lcp'][0] / empty['lcp'][0]:4.2f}"
              f"  data {large['data'][0] / empty['data'][0]:4.2f}")


def print_routes(timings: dict, order_id: str, requests_each: int) -> list[str]:
    """Each route's p50/p90 in both stores; returns the large store's slow ones."""
    print(f"\nJSON routes under /admin/api, client-side over loopback, {requests_each} requests each, ms")
    print(f"  {'route':<22} {'large p50':>9} {'p90':>7} {'empty p50':>10} {'p90':>7} {'large/empty':>12}")
    slow = []
    for label, _path in routes(order_id):
        large, empty = timings[(label, "large")], timings[(label, "empty")]
        l50, e50 = percentile(large, 50), percentile(empty, 50)
        flag = "  SLOW" if l50 > SLOW_ROUTE_MS else ""
        if flag:
            slow.append(f"{label} {l50:.0f} ms")
        print(f"  {label:<22} {l50:9.1f} {percentile(large, 90):7.1f} {e50:10.1f} {percentile(empty, 90):7.1f} "
              f"{l50 / e50:12.1f}{flag}")
    return slow


def print_verdicts(args, summary: dict, view_list, problems: list[str], verdicts: dict[str, bool],
                   slow: list[str]) -> None:
    """The issue's bar, the page's problems and the RESULT line."""
    worst_fp_view = max(view_list, key=lambda v: summary[("large", v[0])]["fp"][1])[0]
    worst_fp = summary[("large", worst_fp_view)]["fp"][1]
    holds = worst_fp < FIRST_PAINT_BAR_MS
    print(f"\nThe issue's bar, first paint under 1 s with {args.influencers:,} influencers and {args.orders:,} orders: "
          f"worst view p75 {worst_fp:.0f} ms ({worst_fp_view}) -> {'HOLDS' if holds else 'DOES NOT HOLD'}")
    if problems:
        print(f"\nThe page logged {len(problems)} problems, e.g.: " + "; ".join(sorted(set(problems))[:5]))
    home = summary[("large", "home")]
    print(f"RESULT merchant_app {args.database}: {args.influencers:,} influencers / {args.orders:,} orders: "
          f"first paint p75 worst {worst_fp:.0f} ms ({'holds' if holds else 'fails'} < 1 s); "
          f"home FCP p50 {home['fcp'][0]:.0f} ms (empty {summary[('empty', 'home')]['fcp'][0]:.0f}), "
          f"LCP p75 worst {max(summary[('large', v)]['lcp'][1] for v, _p in view_list):.0f} ms, "
          f"CLS p75 worst {max(summary[('large', v)]['cls'][1] for v, _p in view_list):.3f}, "
          f"INP p75 worst {max(summary[('large', v)]['inp'][1] for v, _p in view_list):.0f} ms "
          f"(BFS {'pass' if all(verdicts.values()) else 'FAIL'}); "
          f"slow routes (> {SLOW_ROUTE_MS:.0f} ms p50): {', '.join(slow) if slow else 'none'}")


def main() -> None:
    parser, args = parse_args()
    exit_cleanly_on_sigterm()
    sync_playwright, app_bridge = browser_or_exit()

    with temporary_folder("bench-merchant-app-") as folder, \
            bench_database(args.database, "merchant_app", folder) as url:
        order_id, seeding = seed_stores(url, args)
        view_list = [(v, p) for v, p in views(order_id) if not args.views or v in args.views.split(",")]
        if not view_list:
            parser.error("--views names none of home, influencers, orders, deliveries, settings, why")
        port = free_port()
        argv = procfile_web_argv("connector:create_app()", port)
        env = connector_env(url, SHOPIFY_API_KEY=API_KEY, CONNECTOR_PUBLIC_URL=f"http://127.0.0.1:{port}")
        print_setup(args, seeding, argv)
        results, problems, timings = measure(args, folder, argv, env, port, view_list, order_id, sync_playwright,
                                             app_bridge)

    summary = summarise(results, [v for v, _p in view_list])
    print(f"\n  load average after measuring: {os.getloadavg()[0]:.1f}")
    print_pages(summary, view_list, args.runs)
    print_shifts(summary, view_list)
    print_interactions(summary, view_list)
    verdicts = print_limits(summary, view_list)
    print_ratios(summary, view_list)
    slow = print_routes(timings, order_id, args.requests)
    print_verdicts(args, summary, view_list, problems, verdicts, slow)


if __name__ == "__main__":
    main()
