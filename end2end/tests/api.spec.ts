import { test, expect, uniqueName, MAIN, PASSWORD } from "./helpers";

test.describe("HTTP API", () => {
  test("register, login, me, refresh, sessions and logout speak the documented JSON", async ({ request }) => {
    const username = uniqueName("api");
    const registered = await request.post(`${MAIN}/api/register`, { data: { username, password: PASSWORD } });
    expect(registered.status()).toBe(200);
    const first = await registered.json();
    expect(Object.keys(first).sort()).toEqual(["access_token", "expires_in", "known_browser", "refresh_token", "token_type"]);
    expect(first.token_type).toBe("Bearer");
    expect(first.expires_in).toBe(900);
    expect(first.known_browser).toMatch(/^[\w-]{75}$/);

    const login = await request.post(`${MAIN}/api/login`, {
      data: { username: username.toUpperCase(), password: PASSWORD, known_browser: first.known_browser },
    });
    expect(login.status()).toBe(200);
    const signedIn = await login.json();
    expect(signedIn.known_browser).toMatch(/^[\w-]{75}$/);
    expect(signedIn.known_browser).not.toBe(first.known_browser);
    const auth = { Authorization: `Bearer ${signedIn.access_token}` };

    const me = await (await request.post(`${MAIN}/api/me`, { headers: auth })).json();
    expect(me.username).toBe(username);
    expect(me.id).toMatch(/^[0-9a-f-]{36}$/);

    const refreshed = await request.post(`${MAIN}/api/refresh`, { data: { refresh_token: first.refresh_token } });
    expect(refreshed.status()).toBe(200);
    const renewed = await refreshed.json();
    expect(renewed.refresh_token).not.toBe(first.refresh_token);
    expect(renewed.known_browser, "only a password sign-in makes a browser known").toBeUndefined();

    const list = await (await request.post(`${MAIN}/api/sessions`, { headers: auth })).json();
    expect(list.sessions).toHaveLength(2);
    const other = list.sessions.find((s: any) => !s.current);
    const revoked = await request.post(`${MAIN}/api/sessions/revoke`, { headers: auth, data: { session_id: other.id } });
    expect(await revoked.json()).toEqual({ revoked: 1 });
    const again = await request.post(`${MAIN}/api/sessions/revoke`, { headers: auth, data: { session_id: other.id } });
    expect(again.status()).toBe(404);
    const none = await request.post(`${MAIN}/api/sessions/revoke_others`, { headers: auth });
    expect(await none.json()).toEqual({ revoked: 0 });

    const logout = await request.post(`${MAIN}/api/logout`, { headers: auth });
    expect(await logout.json()).toEqual({ revoked: 1 });
    const after = await request.post(`${MAIN}/api/me`, { headers: auth });
    expect(after.status()).toBe(401);
  });

  test("a new QR code comes with its documented fields, and drawn", async ({ request }) => {
    const response = await request.post(`${MAIN}/api/qr/create`);
    expect(response.status()).toBe(200);
    const code = await response.json();
    expect(Object.keys(code).sort()).toEqual(["expires_in", "id", "qr_svg_path", "qr_svg_size", "secret", "url"]);
    expect(code.url).toBe(`${MAIN}/qr/${code.id}`);
    // The finder pattern's top edge, seven dark modules, starts just inside the quiet zone.
    expect(code.qr_svg_path).toMatch(/^M4 4h7v1h-7z/);
    expect(code.qr_svg_size).toBeGreaterThanOrEqual(21 + 8);
  });

  test("errors carry the right status and a stable code, never internals", async ({ request }) => {
    const cases: [string, unknown, number, string][] = [
      ["/api/register", { username: "ab", password: PASSWORD }, 400, "invalid_input"],
      ["/api/register", { username: uniqueName("pw"), password: "short" }, 400, "invalid_input"],
      ["/api/login", { username: "someone" }, 400, "invalid_input"],
      ["/api/login", { username: uniqueName("nobody"), password: PASSWORD }, 401, "invalid_credentials"],
      ["/api/me", {}, 401, "unauthorized"],
      ["/api/refresh", { refresh_token: "not-a-real-token" }, 401, "unauthorized"],
      ["/api/qr/poll", { id: "unknown", secret: "nope" }, 404, "not_found"],
      ["/api/no-such-call", {}, 404, "not_found"],
    ];
    for (const [path, data, status, code] of cases) {
      const response = await request.post(`${MAIN}${path}`, { data });
      expect(response.status(), path).toBe(status);
      const body = await response.json();
      expect(body.code, path).toBe(code);
      expect(typeof body.message).toBe("string");
      expect(body.message).not.toMatch(/sqlx|postgres|panicked|SQLSTATE/i);
    }
    const username = uniqueName("dup");
    await request.post(`${MAIN}/api/register`, { data: { username, password: PASSWORD } });
    const taken = await request.post(`${MAIN}/api/register`, { data: { username: username.toUpperCase(), password: PASSWORD } });
    expect(taken.status()).toBe(409);
    expect((await taken.json()).code).toBe("username_taken");

    const malformed = await request.post(`${MAIN}/api/login`, { headers: { "content-type": "application/json" }, data: "{not json" });
    expect(malformed.status()).toBe(400);
    // Found by schemathesis: serde reads a struct from an array of its fields too. Not the API.
    for (const [path, data] of [["/api/passkeys/login/start", "[]"], ["/api/login", JSON.stringify([username, PASSWORD])]]) {
      const array = await request.post(`${MAIN}${path}`, { headers: { "content-type": "application/json" }, data });
      expect(array.status(), path).toBe(400);
      expect((await array.json()).code).toBe("invalid_input");
    }

    const tooLarge = await request.post(`${MAIN}/api/login`, { data: { username: "x", password: "y".repeat(100_000) } });
    expect(tooLarge.status()).toBe(413);
    expect((await tooLarge.json()).code).toBe("payload_too_large");
  });

  test("repeated failed sign-ins are answered 429 with a retry time", async ({ request }) => {
    const username = uniqueName("limit");
    await request.post(`${MAIN}/api/register`, { data: { username, password: PASSWORD } });
    for (let i = 0; i < 5; i++) {
      const wrong = await request.post(`${MAIN}/api/login`, { data: { username, password: "wrong password" } });
      expect(wrong.status()).toBe(401);
    }
    const limited = await request.post(`${MAIN}/api/login`, { data: { username, password: PASSWORD } });
    expect(limited.status()).toBe(429);
    expect(Number(limited.headers()["retry-after"])).toBeGreaterThan(0);
    const body = await limited.json();
    expect(body.code).toBe("rate_limited");
    expect(body.retry_after).toBeGreaterThan(0);
  });

  test("pages and API responses send security headers", async ({ request }) => {
    const page = await request.get(`${MAIN}/login`);
    const headers = page.headers();
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["content-security-policy"]).toMatch(/script-src 'nonce-[\w-]+'/);
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    const api = await request.post(`${MAIN}/api/me`);
    expect(api.headers()["x-content-type-options"]).toBe("nosniff");
    expect(api.headers()["cache-control"]).toBe("no-store");
  });
});
