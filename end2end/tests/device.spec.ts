import { devices, type Browser, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { test, expect, register, submitSignIn, uniqueName, hydrated, newWatchedPage, MAIN, PASSWORD } from "./helpers";

// The device (a TV app, here this script) asks for codes and polls, as RFC 8628 says; the person
// approves on a phone-sized browser where they are signed in.

/** A public TV app registered for the device grant with `sesame client add`. */
function addTvApp(): string {
  const id = uniqueName("tv");
  execFileSync(
    "./target/debug/sesame",
    ["client", "add", "--id", id, "--name", "Living-room TV", "--public", "--grant", "device_code"],
    { cwd: "..", env: { ...process.env, SESAME_LOG: "warn" } },
  );
  return id;
}

type Codes = { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; interval: number };

async function startDevice(clientId: string): Promise<Codes> {
  const response = await fetch(`${MAIN}/oauth/device_authorization`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: clientId, scope: "openid profile" }),
  });
  expect(response.status).toBe(200);
  const codes = await response.json();
  expect(codes.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  expect(codes.verification_uri).toBe(`${MAIN}/device`);
  return codes;
}

/** Polls politely (every `interval` seconds) until the answer is final; notes when it came. */
function pollUntilAnswered(clientId: string, codes: Codes) {
  return (async () => {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, codes.interval * 1000));
      const response = await fetch(`${MAIN}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:device_code",
          device_code: codes.device_code,
          client_id: clientId,
        }),
      });
      const body = await response.json();
      expect(body.error, "a client that waits the interval never sees slow_down").not.toBe("slow_down");
      if (body.error !== "authorization_pending") {
        return { at: Date.now(), status: response.status, body };
      }
    }
  })();
}

async function signedInPhone(browser: Browser, watch: (p: Page) => void) {
  const context = await browser.newContext({ ...devices["Pixel 7"] });
  const page = await newWatchedPage(context, watch);
  const name = uniqueName("tvowner");
  await register(page, name);
  return { context, page, name };
}

test("the phone opens the QR link, sees the code the TV shows, approves, and the TV is signed in", async ({ browser, watch }) => {
  const clientId = addTvApp();
  const phone = await signedInPhone(browser, watch);
  const codes = await startDevice(clientId);
  const answered = pollUntilAnswered(clientId, codes);

  await phone.page.goto(codes.verification_uri_complete);
  await expect(phone.page.getByTestId("device-user-code")).toHaveText(codes.user_code);
  await expect(phone.page.getByTestId("device-app")).toContainText("Living-room TV");
  await expect(phone.page.getByTestId("device-ip")).toHaveText("127.0.0.1");
  await expect(phone.page.getByTestId("device-other-network")).toHaveCount(0);
  const [approve, deny] = [phone.page.getByTestId("device-approve"), phone.page.getByTestId("device-deny")];
  expect(Math.round((await approve.boundingBox())!.height)).toBe(Math.round((await deny.boundingBox())!.height));
  await approve.click();
  const approvedAt = Date.now();
  await expect(phone.page.getByTestId("device-result")).toHaveText(/Approved|已批准/);

  const result = await answered;
  expect(result.status).toBe(200);
  expect(result.at - approvedAt).toBeLessThan(codes.interval * 1000 + 1000);
  const claims = JSON.parse(Buffer.from(result.body.id_token.split(".")[1], "base64url").toString());
  expect(claims.preferred_username).toBe(phone.name);

  await phone.page.goto(`${MAIN}/sessions`);
  await expect(phone.page.locator('[data-testid="session"][data-method="device"] [data-testid="session-device"]')).toHaveText(/Living-room TV/);
  await phone.context.close();
});

test("a code typed in lower case with a space is the same code", async ({ browser, watch }) => {
  const clientId = addTvApp();
  const phone = await signedInPhone(browser, watch);
  const codes = await startDevice(clientId);
  await phone.page.goto(`${MAIN}/device`);
  await hydrated(phone.page);
  await phone.page.getByTestId("device-code-input").fill(codes.user_code.toLowerCase().replace("-", " "));
  await phone.page.getByTestId("device-continue").click();
  await expect(phone.page.getByTestId("device-user-code")).toHaveText(codes.user_code);
  await phone.page.getByTestId("device-approve").click();
  await expect(phone.page.getByTestId("device-result")).toHaveText(/Approved|已批准/);
  const result = await pollUntilAnswered(clientId, codes);
  expect(result.status).toBe(200);
  await phone.context.close();
});

test("Deny: the TV is told access_denied", async ({ browser, watch }) => {
  const clientId = addTvApp();
  const phone = await signedInPhone(browser, watch);
  const codes = await startDevice(clientId);
  await phone.page.goto(codes.verification_uri_complete);
  await phone.page.getByTestId("device-deny").click();
  await expect(phone.page.getByTestId("device-result")).toHaveText(/Denied|已拒绝/);
  const result = await pollUntilAnswered(clientId, codes);
  expect([result.status, result.body.error]).toEqual([400, "access_denied"]);
  await phone.context.close();
});

test("signed out first: the QR link leads through sign-in to the confirm screen", async ({ browser, watch }) => {
  const clientId = addTvApp();
  const context = await browser.newContext({ ...devices["Pixel 7"] });
  const page = await newWatchedPage(context, watch);
  const name = uniqueName("tvlater");
  const made = await page.request.post(`${MAIN}/api/register`, { data: { username: name, password: PASSWORD } });
  expect(made.status()).toBe(200);
  const codes = await startDevice(clientId);
  await page.goto(codes.verification_uri_complete);
  await expect(page).toHaveURL(/\/login\?next=/);
  await submitSignIn(page, name);
  await expect(page.getByTestId("device-user-code")).toHaveText(codes.user_code);
  await page.getByTestId("device-approve").click();
  const result = await pollUntilAnswered(clientId, codes);
  expect(result.status).toBe(200);
  await context.close();
});
