"""Take the README's screenshot of the question page: ``python scripts/screenshot.py``.

Serves the page over the real index of ``seeds/`` (built first if needed, with the bundled model),
asks one of the example questions in headless Chromium (Debian's ``chromium``) and saves
``docs/screenshot.png``; with ``--timeline caseloads --out docs/timeline.png``, the Timeline tab.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys

from inspect_qa import ui

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", default="index")
    p.add_argument("--corpus", default="seeds")
    p.add_argument("--out", default="docs/screenshot.png")
    p.add_argument("--question", default=ui.SEED_EXAMPLES[0])
    p.add_argument("--show", type=int, default=None,
                   help="also press 'Show in source' on this passage (1 = best)")
    p.add_argument("--timeline", metavar="TOPIC", default=None,
                   help="show the Timeline tab for TOPIC instead (e.g. --out docs/timeline.png)")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=1050)
    args = p.parse_args(argv)
    chromium = shutil.which("chromium")
    if chromium is None:
        print("screenshot: install Debian's chromium first: apt-get install -y chromium",
              file=sys.stderr)
        return 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    demo = ui.serve("127.0.0.1", port, args.index, args.corpus, block=False)
    from playwright.sync_api import expect, sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(str(demo.local_url))
            if args.timeline:
                page.get_by_role("tab", name="Timeline").click()
                page.locator("#iqa-topic textarea").fill(args.timeline)
                page.locator("#iqa-follow").click()
                expect(page.get_by_test_id("timeline")).to_be_visible(timeout=60_000)
                page.locator("#iqa-topic textarea").blur()
                page.wait_for_timeout(800)
                page.screenshot(path=args.out)
                browser.close()
                print(f"saved {args.out}")
                return 0
            page.locator("#iqa-question textarea").fill(args.question)
            page.locator("#iqa-ask").click()
            expect(page.get_by_test_id("answer-card")).to_be_visible(timeout=60_000)
            if args.show:
                page.get_by_test_id("citation").nth(args.show - 1).get_by_role(
                    "button", name="Show in source").click()
                page.wait_for_timeout(500)
                page.evaluate("window.scrollTo(0, 0)")
            page.locator("#iqa-question textarea").blur()
            page.wait_for_timeout(800)  # fonts and the source view's scroll settle
            page.screenshot(path=args.out)
            browser.close()
    finally:
        demo.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
