import net from "node:net";
import { randomBytes } from "node:crypto";
import { test, expect, uniqueName, hydrated, register, submitSignIn, MAIN, SHORT, PASSWORD } from "./helpers";

/**
 * Sends `body` chunked (no Content-Length) over a raw socket, a chunk every few milliseconds, the
 * way a streaming upload goes, and stops sending once the server has answered (as curl does).
 * Returns the status and JSON body of the answer.
 */
async function postChunked(url: string, body: string): Promise<{ status: number; body: string }> {
  const { hostname, port, pathname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let received = "";
  socket.on("data", (data) => (received += data));
  socket.on("error", () => {});
  const closed = new Promise((resolve) => socket.on("close", resolve));
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
  for (let i = 0; i < body.length && !received; i += 2048) {
    const chunk = body.slice(i, i + 2048);
    socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!received) socket.write("0\r\n\r\n");
  await closed;
  const status = Number(received.split(" ")[1]);
  const text = received.slice(received.indexOf("\r\n\r\n") + 4);
  // The answer may itself be chunked: keep the JSON object inside.
  return { status, body: text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1) };
}

test.describe("API hardening", () => {
  test("a body that is not JSON is refused with 415 before anything is counted", async ({ request }) => {
    const username = uniqueName("ctype");
    await request.post(`${MAIN}/api/register`, { data: { username, password: PASSWORD } });
    // Another site can send these without a CORS preflight; none of them may count as a guess.
    for (let i = 0; i < 6; i++) {
      const plain = await request.post(`${MAIN}/api/login`, {
        headers: { "content-type": "text/plain" },
        data: JSON.stringify({ username, password: "wrong password" }),
      });
      expect(plain.status()).toBe(415);
      expect((await plain.json()).code).toBe("unsupported_media_type");
      const form = await request.post(`${MAIN}/api/login`, { form: { username, password: "wrong password" } });
      expect(form.status()).toBe(415);
    }
    const withCharset = await request.post(`${MAIN}/api/login`, {
      headers: { "content-type": "Application/JSON; charset=utf-8" },
      data: JSON.stringify({ username, password: PASSWORD }),
    });
    expect(withCharset.status()).toBe(200);
  });

  test("an empty POST counts as {} for API clients, but not from another site's page or naming another type", async ({ request }) => {
    // curl -X POST: fine.
    expect((await request.post(`${MAIN}/api/qr/create`)).status()).toBe(200);
    // What a page of another site can send without a preflight: refused before anything happens.
    for (const headers of [
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      { origin: "https://evil.example" },
      { "content-type": "application/x-www-form-urlencoded" },
      { "content-type": "text/plain" },
    ]) {
      const refused = await request.post(`${MAIN}/api/qr/create`, { headers });
      expect(refused.status(), JSON.stringify(headers)).toBe(415);
    }
    // Our own pages' calls (same origin) are JSON anyway, and pass.
    const own = await request.post(`${MAIN}/api/qr/create`, {
      headers: { "sec-fetch-site": "same-origin", origin: MAIN, "content-type": "application/json" },
      data: {},
    });
    expect(own.status()).toBe(200);
  });

  test("calls that write or wake are limited per session: the 31st in a minute is 429 with Retry-After", async ({ request }) => {
    const made = await request.post(`${MAIN}/api/register`, { data: { username: uniqueName("writer"), password: PASSWORD } });
    const auth = { Authorization: `Bearer ${(await made.json()).access_token}` };
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      const response = await request.post(`${MAIN}/api/sessions/revoke_others`, { headers: auth });
      statuses.push(response.status());
      if (response.status() === 429) {
        expect(Number(response.headers()["retry-after"])).toBeGreaterThan(0);
        expect((await response.json()).code).toBe("rate_limited");
      }
    }
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(statuses[30]).toBe(429);
    // Reading is not limited, and the session itself is unharmed.
    expect((await request.post(`${MAIN}/api/me`, { headers: auth })).status()).toBe(200);
  });

  test("an oversized body is 413 whether announced or chunked", async () => {
    const big = JSON.stringify({ username: "someone", password: "y".repeat(100_000) });
    const chunked = await postChunked(`${MAIN}/api/login`, big);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).code).toBe("payload_too_large");
    const small = await postChunked(`${MAIN}/api/login`, JSON.stringify({ username: uniqueName("nobody"), password: PASSWORD }));
    expect(small.status).toBe(401);
  });

  test("every 401 carries WWW-Authenticate, naming a bad token as such", async ({ request }) => {
    const none = await request.post(`${MAIN}/api/me`);
    expect(none.status()).toBe(401);
    expect(none.headers()["www-authenticate"]).toBe("Bearer");
    const bad = await request.post(`${MAIN}/api/me`, { headers: { Authorization: "Bearer not.a.token" } });
    expect(bad.status()).toBe(401);
    expect(bad.headers()["www-authenticate"]).toBe('Bearer error="invalid_token"');
  });

  test("health and readiness answer", async ({ request }) => {
    expect((await request.get(`${MAIN}/healthz`)).status()).toBe(200);
    const ready = await request.get(`${MAIN}/readyz`);
    expect(ready.status()).toBe(200);
  });

  test("handles are ASCII, one per spelling; display names are any script", async ({ request }) => {
    const handle = uniqueName("alice");
    const created = await request.post(`${MAIN}/api/register`, {
      data: { username: handle.toUpperCase(), password: PASSWORD, display_name: "Ali\u0301ce 爱丽丝" },
    });
    expect(created.status()).toBe(200);
    const auth = { Authorization: `Bearer ${(await created.json()).access_token}` };
    const me = await (await request.post(`${MAIN}/api/me`, { headers: auth })).json();
    expect(me.username).toBe(handle);
    expect(me.display_name).toBe("Alíce 爱丽丝");

    const lookAlike = await request.post(`${MAIN}/api/register`, { data: { username: handle.replace("a", "\u0430"), password: PASSWORD } });
    expect(lookAlike.status()).toBe(400);
    expect((await lookAlike.json()).code).toBe("invalid_input");

    const cleared = await request.post(`${MAIN}/api/account/display_name`, { headers: auth, data: { display_name: null } });
    expect((await cleared.json()).display_name).toBeNull();
  });

  test("behind a trusted proxy the address it saw counts, not one the client wrote", async ({ request }) => {
    // The SHORT server trusts one proxy hop.
    const created = await request.post(`${SHORT}/api/register`, {
      headers: { "X-Forwarded-For": "6.6.6.6, 203.0.113.77" },
      data: { username: uniqueName("proxy"), password: PASSWORD },
    });
    const auth = { Authorization: `Bearer ${(await created.json()).access_token}` };
    const list = await (await request.post(`${SHORT}/api/sessions`, { headers: auth })).json();
    expect(list.sessions[0].ip).toBe("203.0.113.77");
  });
});

test.describe("no open redirect after sign-in", () => {
  const foreign = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "/%2F%2Fevil.example",
    "//evil.example/%2F..",
    " //evil.example",
  ];

  const expectOnSite = async (url: string) => {
    expect(new URL(url).origin).toBe(MAIN);
  };

  test("signed out: every spelling of a foreign target stays on the site", async ({ page }) => {
    const name = uniqueName("redir");
    await register(page, name);
    await page.evaluate(() => localStorage.clear());
    for (const next of foreign) {
      await page.goto(`${MAIN}/login?next=${encodeURIComponent(next)}`);
      await submitSignIn(page, name);
      await expect(page).not.toHaveURL(/\/login/);
      await expectOnSite(page.url());
      await page.evaluate(() => localStorage.clear());
    }
  });

  test("signed in: every spelling of a foreign target stays on the site", async ({ page }) => {
    await register(page, uniqueName("redir"));
    for (const next of foreign) {
      await page.goto(`${MAIN}/login?next=${encodeURIComponent(next)}`);
      await hydrated(page);
      await expect(page).not.toHaveURL(/\/login/);
      await expectOnSite(page.url());
    }
  });

  test("a path on the site is followed, query included", async ({ page }) => {
    await register(page, uniqueName("redir"));
    await page.goto(`${MAIN}/login?next=${encodeURIComponent("/sessions?x=1")}`);
    await expect(page).toHaveURL(`${MAIN}/sessions?x=1`);
  });
});

test.describe("before the page's code has loaded", () => {
  for (const wasm of ["blocked", "delayed 4 s"]) {
    for (const path of ["/login", "/register"]) {
      test(`${path}, WASM ${wasm}: Enter, a click and a forced submit put the password in no URL`, async ({ browser }) => {
        // A context of its own: a blocked bundle is an expected console error here.
        const context = await browser.newContext();
        const page = await context.newPage();
        const password = `early-${randomBytes(6).toString("hex")}`;
        const urls: string[] = [];
        page.on("request", (request) => urls.push(request.url()));
        await page.route("**/*.wasm", async (route) => {
          if (wasm === "blocked") return route.abort();
          await new Promise((resolve) => setTimeout(resolve, 4_000));
          return route.continue();
        });
        await page.goto(`${MAIN}${path}`, { waitUntil: "domcontentloaded" });
        const submit = page.locator("form button[type=submit]");
        await expect(submit).toBeDisabled();
        await expect(submit).toHaveText(/Loading|加载/);
        await page.getByLabel(/Username|用户名/).fill(uniqueName("early"));
        await page.locator("input[type=password]").fill(password);
        await page.locator("input[type=password]").press("Enter");
        await submit.click({ force: true });
        await page.waitForTimeout(300);
        expect(page.url()).not.toContain(password);
        // What a password manager might do: submit the form outright.
        await page.evaluate(() => document.querySelector("form")!.requestSubmit());
        await page.waitForTimeout(wasm === "blocked" ? 500 : 4_500);
        expect(urls.filter((url) => url.includes(password))).toEqual([]);
        expect(page.url()).not.toContain(password);
        await context.close();
      });
    }
  }
});
