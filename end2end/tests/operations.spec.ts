import { test, expect, uniqueName, MAIN, METRICS, PASSWORD } from "./helpers";

/** The value of one sample in Prometheus text, or 0 when it is not there yet. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.split(",").every((label) => l.includes(label)));
  return line ? Number(line.split(" ").pop()) : 0;
}

test.describe("operations", () => {
  test("metrics are served on their own address, by matched route, and counters move", async ({ request }) => {
    expect((await request.get(`${MAIN}/metrics`)).status()).toBe(404);
    const before = await (await request.get(`${METRICS}/metrics`)).text();
    const failures = sample(before, "sesame_sign_ins_total", 'method="password",result="failure"');

    await request.post(`${MAIN}/api/login`, { data: { username: uniqueName("metric"), password: PASSWORD } });
    await request.get(`${MAIN}/qr/some-code-id`);

    const after = await (await request.get(`${METRICS}/metrics`)).text();
    expect(sample(after, "sesame_sign_ins_total", 'method="password",result="failure"')).toBe(failures + 1);
    expect(sample(after, "sesame_http_requests_total", 'route="/api/login",status="401"')).toBeGreaterThan(0);
    // Pages count under their route pattern, never the raw path with its id.
    expect(after).toMatch(/route="\/qr\/(\{id\}|:id)"/);
    expect(after).not.toContain("some-code-id");
    expect(after).toContain("sesame_http_request_duration_seconds_bucket");
    expect(after).toMatch(/sesame_db_pool_connections\{state="idle"\}/);
    expect(after).toMatch(/sesame_qr_polls_waiting \d+/);
    expect(after).toMatch(/sesame_notice_polls_waiting \d+/);
  });

  test("every response carries a request id; a sane incoming one is kept", async ({ request }) => {
    const fresh = await request.get(`${MAIN}/login`);
    expect(fresh.headers()["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await request.post(`${MAIN}/api/me`, { headers: { "X-Request-Id": "edge-42.abc_1" } });
    expect(kept.headers()["x-request-id"]).toBe("edge-42.abc_1");
    const replaced = await request.post(`${MAIN}/api/me`, { headers: { "X-Request-Id": "x".repeat(200) } });
    expect(replaced.headers()["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
