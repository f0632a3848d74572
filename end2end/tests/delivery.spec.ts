import type { APIRequestContext } from "@playwright/test";
import { test, expect, hydrated, register, uniqueName, MAIN } from "./helpers";

const FOREVER = "public, max-age=31536000, immutable";
/** The stylesheet by its own hash; the JS, the WASM and its chunks in a folder named by one hash. */
const HASHED = /^\/pkg\/(sesame\.[A-Za-z0-9_-]{16}\.css|[A-Za-z0-9_-]{16}\/sesame\.(js|wasm))$/;
const folder = (url: string) => url.slice(0, url.lastIndexOf("/"));

const extension = (url: string) => url.split(".").pop();

/** The bundle a page links: its stylesheet, and the JS module and WASM it preloads, in that order. */
async function bundleOf(request: APIRequestContext, path = "/login"): Promise<string[]> {
  const html = await (await request.get(`${MAIN}${path}`)).text();
  const urls = [...new Set([...html.matchAll(/href="(\/pkg\/[^"]+)"/g)].map((m) => m[1]))];
  return ["css", "js", "wasm"].flatMap((ext) => urls.filter((url) => extension(url) === ext));
}

test.describe("Delivery: compression and caching", () => {
  test("the bundle has content-hashed names and is cached for a year; pages are not cached", async ({ request }) => {
    const bundle = await bundleOf(request);
    expect(bundle.map(extension)).toEqual(["css", "js", "wasm"]);
    for (const url of bundle) {
      expect(url).toMatch(HASHED);
      const response = await request.get(`${MAIN}${url}`);
      expect(response.status(), url).toBe(200);
      expect(response.headers()["cache-control"], url).toBe(FOREVER);
    }
    // The JS, the WASM and its chunks import each other by plain name: one folder, one hash.
    const [, js, wasm] = bundle;
    expect(folder(js)).toBe(folder(wasm));

    const page = await request.get(`${MAIN}/login`);
    expect(page.headers()["cache-control"]).toBe("no-cache");
    expect(page.headers()["content-security-policy"]).toMatch(/script-src 'nonce-[^']+'/);
    const plain = await request.get(`${MAIN}/pkg/sesame.wasm`);
    expect(plain.headers()["cache-control"], "unhashed names are revalidated").toBe("no-cache");
  });

  test("pages and the bundle come compressed when asked, and the same bytes when not", async ({ request }) => {
    const bundle = await bundleOf(request);
    for (const url of ["/login", ...bundle]) {
      const identity = await request.get(`${MAIN}${url}`, { headers: { "accept-encoding": "identity" } });
      expect(identity.headers()["content-encoding"], url).toBeUndefined();
      for (const encoding of ["br", "gzip"]) {
        const response = await request.get(`${MAIN}${url}`, { headers: { "accept-encoding": encoding } });
        expect(response.headers()["content-encoding"], `${url} ${encoding}`).toBe(encoding);
        expect(response.headers()["vary"], url).toMatch(/accept-encoding/i);
        if (url !== "/login") {
          // Playwright decodes the body: the precompressed files hold exactly the original.
          expect((await response.body()).equals(await identity.body()), `${url} ${encoding}`).toBe(true);
        }
      }
    }
  });

  test("API answers are never compressed (they carry tokens: BREACH)", async ({ request }) => {
    const headers = { "accept-encoding": "br, gzip, deflate, zstd" };
    const created = await request.post(`${MAIN}/api/qr/create`, { headers });
    expect(created.status()).toBe(200);
    expect(created.headers()["content-encoding"]).toBeUndefined();
    const failed = await request.post(`${MAIN}/api/login`, { headers, data: { username: uniqueName("nobody"), password: "x".repeat(20) } });
    expect(failed.status()).toBe(401);
    expect(failed.headers()["content-encoding"]).toBeUndefined();
  });

  test("a repeat visit fetches only the page: the bundle comes from the browser cache", async ({ page }) => {
    await page.goto("/login");
    await hydrated(page);
    await page.goto("/login");
    await hydrated(page);
    const loads = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((entry) => {
        const resource = entry as PerformanceResourceTiming;
        return { url: new URL(resource.name).pathname, transferSize: resource.transferSize };
      }),
    );
    const bundle = loads.filter((load) => load.url.startsWith("/pkg/"));
    expect(bundle.map((load) => extension(load.url))).toEqual(expect.arrayContaining(["css", "js", "wasm"]));
    // A transfer size of 0 means no request left the browser, not even a revalidation.
    expect(bundle.filter((load) => load.transferSize > 0)).toEqual([]);
    const [navigation] = await page.evaluate(() =>
      performance.getEntriesByType("navigation").map((entry) => (entry as PerformanceNavigationTiming).transferSize),
    );
    expect(navigation, "the page itself is fetched again").toBeGreaterThan(0);
  });

  test("a page the sign-in page does not need is a chunk loaded on the first visit, from the bundle's folder", async ({ page }) => {
    const chunks: string[] = [];
    page.on("response", (response) => {
      const path = new URL(response.url()).pathname;
      if (/\.wasm$/.test(path) && !path.endsWith("/sesame.wasm")) chunks.push(path);
    });
    await page.goto("/login");
    await hydrated(page);
    expect(chunks, "signing in loads no page chunks").toEqual([]);
    await register(page, uniqueName("chunky"));
    await page.goto("/security");
    await hydrated(page);
    await expect(page.getByTestId("change-password")).toBeVisible();
    expect(chunks.length, "the security page came as a chunk").toBeGreaterThan(0);
    const [main] = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((p) => p.endsWith("/sesame.wasm")),
    );
    for (const chunk of chunks) {
      expect(folder(chunk)).toBe(folder(main));
      const response = await page.request.get(`${MAIN}${chunk}`);
      expect(response.headers()["cache-control"], chunk).toBe(FOREVER);
    }
  });
});
