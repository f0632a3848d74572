// First and repeat visit of one page in Debian's Chromium on an emulated 4G network (CDP
// Network.emulateNetworkConditions), as a desktop (1280×720) and as a phone (Pixel 7). Prints
// every response's bytes on the wire (headers included) and encoding, the totals, navigation →
// hydrated time and, on the desktop, navigation → QR code shown; best of RUNS cold visits each.
// Usage: node bench/page-load.js http://127.0.0.1:3200/login  (scripts/bench-page runs it)
const { chromium, devices } = require("@playwright/test");

const url = process.argv[2];
const RUNS = Number(process.env.RUNS ?? 3);
const network = { offline: false, latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 10e6 / 8 };

async function visit(page, cdp, desktop) {
  const responses = new Map();
  const onResponse = ({ requestId, response }) =>
    responses.set(requestId, {
      url: new URL(response.url).pathname,
      status: response.status,
      encoding: response.headers["content-encoding"] ?? response.headers["Content-Encoding"] ?? "none",
      cached: response.fromDiskCache || response.fromPrefetchCache,
      bytes: 0,
    });
  const onFinished = ({ requestId, encodedDataLength }) => {
    const response = responses.get(requestId);
    if (response) response.bytes = encodedDataLength;
  };
  cdp.on("Network.responseReceived", onResponse);
  cdp.on("Network.loadingFinished", onFinished);
  await page.goto(url);
  const hydratedAt = await page.waitForFunction(() => window.__hydratedAt).then((h) => h.jsonValue());
  // A wide screen shows the QR code beside the form: the first load includes what that takes.
  const qrShownAt = desktop
    ? await page.waitForFunction(() => document.querySelector('[data-testid="qr-code"]') && performance.now()).then((h) => h.jsonValue())
    : null;
  // Let late responses report their sizes.
  await page.waitForTimeout(300);
  cdp.off("Network.responseReceived", onResponse);
  cdp.off("Network.loadingFinished", onFinished);
  const fetched = [...responses.values()].filter((r) => !r.cached && r.bytes > 0);
  return { hydratedAt, qrShownAt, fetched, bytes: fetched.reduce((sum, r) => sum + r.bytes, 0) };
}

async function measure(browser, name, options, desktop) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext(options); // a fresh, empty cache
    await context.addInitScript(() => {
      // navigation start → the moment hydrate() marks the page interactive
      new MutationObserver((_, observer) => {
        if (document.documentElement.hasAttribute("data-hydrated")) {
          window.__hydratedAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
    });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", network);
    const first = await visit(page, cdp, desktop);
    const repeat = await visit(page, cdp, desktop);
    runs.push({ first, repeat });
    await context.close();
  }

  runs.sort((a, b) => a.first.hydratedAt - b.first.hydratedAt);
  const best = runs[0];
  const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
  console.log(`${name}: first visit of ${url} (best of ${RUNS}, emulated 4G: 10 Mbit/s, 40 ms RTT)`);
  for (const r of best.first.fetched) {
    console.log(`  ${r.url.padEnd(60)} ${String(r.status).padEnd(4)} ${r.encoding.padEnd(5)} ${kb(r.bytes).padStart(10)}`);
  }
  const assets = best.first.fetched.filter((r) => r.url === new URL(url).pathname || /\.(css|js|wasm)$/.test(r.url));
  console.log(`  ${"assets (HTML + CSS + JS + WASM)".padEnd(71)} ${kb(assets.reduce((sum, r) => sum + r.bytes, 0)).padStart(10)}`);
  console.log(`  ${"total on the wire".padEnd(71)} ${kb(best.first.bytes).padStart(10)}`);
  console.log(`  Navigation → hydrated: ${Math.round(best.first.hydratedAt)} ms (all runs: ${runs.map((r) => Math.round(r.first.hydratedAt)).join(", ")} ms)`);
  if (desktop) {
    console.log(`  Navigation → QR code shown: ${Math.round(best.first.qrShownAt)} ms (all runs: ${runs.map((r) => Math.round(r.first.qrShownAt)).join(", ")} ms)`);
  }
  console.log(`  Repeat visit: ${best.repeat.fetched.length} request(s), ${kb(best.repeat.bytes)} on the wire (${best.repeat.fetched.map((r) => `${r.url} ${r.status}`).join(", ")}); hydrated at ${Math.round(best.repeat.hydratedAt)} ms`);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  await measure(browser, "Desktop (1280×720)", {}, true);
  await measure(browser, "Phone (Pixel 7)", { ...devices["Pixel 7"] }, false);
  await browser.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
