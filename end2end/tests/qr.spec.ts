import { devices, type Page, type Browser } from "@playwright/test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { test, expect, register, submitSignIn, storedTokens, uniqueName, hydrated, newWatchedPage, MAIN, SHORT, PASSWORD } from "./helpers";

/** Reads the QR code the way a phone camera would: from the pixels on screen. */
async function decodeQr(page: Page): Promise<string> {
  const qr = page.getByTestId("qr-code");
  await expect(qr).toBeVisible();
  const image = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  expect(decoded, "the QR code on screen decodes").not.toBeNull();
  return decoded!.data;
}

async function desktopShowingQr(browser: Browser, watch: (p: Page) => void, base = MAIN) {
  const context = await browser.newContext({ ...devices["Desktop Chrome"] });
  const page = await newWatchedPage(context, watch);
  await page.goto(`${base}/login`);
  await hydrated(page);
  // A wide screen shows the code at once, beside the password form.
  await expect(page.getByTestId("qr-panel")).toBeVisible();
  await expect(page.getByTestId("show-qr")).toHaveCount(0);
  return { context, page, url: await decodeQr(page) };
}

async function signedInPhone(browser: Browser, watch: (p: Page) => void, base = MAIN) {
  const context = await browser.newContext({ ...devices["Pixel 7"] });
  const page = await newWatchedPage(context, watch);
  const name = uniqueName("phone");
  await register(page, name, base);
  return { context, page, name };
}

test("a signed-in phone approves and the desktop gets a session of its own", async ({ browser, watch }) => {
  const phone = await signedInPhone(browser, watch);
  const desktop = await desktopShowingQr(browser, watch);
  expect(desktop.url).toMatch(new RegExp(`^${MAIN}/qr/[\\w-]{22,}$`));
  await expect(desktop.page.getByTestId("qr-status")).toHaveAttribute("data-state", "pending");

  await phone.page.goto(desktop.url);
  await expect(phone.page.getByTestId("qr-device")).toHaveText(/Chrome .* Windows/);
  await expect(phone.page.getByTestId("qr-ip")).toHaveText("127.0.0.1");
  await expect(desktop.page.getByTestId("qr-status")).toContainText(phone.name);

  await phone.page.getByTestId("qr-approve").click();
  await expect(phone.page.getByTestId("qr-result")).toHaveText(/Approved|已确认/);
  // The desktop asks before it keeps a session of someone else's approving.
  await expect(desktop.page.getByTestId("qr-status")).toHaveAttribute("data-state", "confirm", { timeout: 1_000 });
  await expect(desktop.page.getByTestId("qr-status")).toContainText(phone.name);
  expect(await storedTokens(desktop.page)).toBeNull();
  await desktop.page.getByTestId("qr-continue").click();
  await expect(desktop.page).toHaveURL(/\/account$/, { timeout: 1_000 });
  await expect(desktop.page.getByTestId("account-username")).toHaveText(phone.name);
  await expect(desktop.page.getByTestId("account-method")).toHaveText(/QR|扫码/);

  const desktopTokens = (await storedTokens(desktop.page))!;
  const phoneTokens = (await storedTokens(phone.page))!;
  expect(desktopTokens.access_token).not.toBe(phoneTokens.access_token);
  expect(desktopTokens.refresh_token).not.toBe(phoneTokens.refresh_token);

  await phone.page.goto(`${MAIN}/sessions`);
  await expect(phone.page.getByTestId("session")).toHaveCount(2);
  const viaQr = phone.page.locator('[data-testid="session"][data-method="qr"]');
  await expect(viaQr).toHaveCount(1);
  await expect(viaQr.getByTestId("session-device")).toHaveText(/Chrome .* Windows/);

  await desktop.context.close();
  await phone.context.close();
});

test("a phone that is not signed in signs in first, comes back, and denies", async ({ browser, watch, request }) => {
  const name = uniqueName("later");
  expect((await request.post(`${MAIN}/api/register`, { data: { username: name, password: PASSWORD } })).status()).toBe(200);
  const phoneContext = await browser.newContext({ ...devices["Pixel 7"] });
  const phone = await newWatchedPage(phoneContext, watch);
  const desktop = await desktopShowingQr(browser, watch);

  await phone.goto(desktop.url);
  await expect(phone).toHaveURL(/\/login\?next=/);
  await submitSignIn(phone, name);
  await expect(phone).toHaveURL(desktop.url);
  await phone.getByTestId("qr-deny").click();
  await expect(phone.getByTestId("qr-result")).toHaveText(/Denied|已拒绝/);
  await expect(desktop.page.getByTestId("qr-status")).toHaveAttribute("data-state", "denied");
  expect(await storedTokens(desktop.page)).toBeNull();

  await desktop.page.getByTestId("qr-new-code").click();
  expect(await decodeQr(desktop.page)).not.toBe(desktop.url);
  await desktop.context.close();
  await phoneContext.close();
});

test("an expired code is replaced by a fresh one, and the phone is told it expired", async ({ browser, watch }) => {
  // This server's codes live 4 seconds.
  const phone = await signedInPhone(browser, watch, SHORT);
  const desktop = await desktopShowingQr(browser, watch, SHORT);
  // While the code is being replaced there may be nothing to read for a moment: keep looking.
  await expect
    .poll(() => decodeQr(desktop.page).catch(() => desktop.url), { timeout: 15_000 })
    .not.toBe(desktop.url);
  await phone.page.goto(desktop.url);
  await expect(phone.page.getByTestId("qr-result")).toHaveText(/expired|过期/);
  await desktop.context.close();
  await phone.context.close();
});

test("someone who only saw the code gets no token", async ({ browser, watch, request }) => {
  const phone = await signedInPhone(browser, watch);
  const desktop = await desktopShowingQr(browser, watch);
  const id = desktop.url.split("/qr/")[1];

  // A third party with the id, signed in as someone else, cannot take over the scan...
  const intruder = await signedInPhone(browser, watch);
  await phone.page.goto(desktop.url);
  await expect(phone.page.getByTestId("qr-approve")).toBeVisible();
  await intruder.page.goto(desktop.url);
  await expect(intruder.page.getByTestId("qr-result")).toHaveText(/another account|其他|scanned/i);

  // ...and after the owner approves, polling with the id but without the secret learns nothing.
  await phone.page.getByTestId("qr-approve").click();
  await desktop.page.getByTestId("qr-continue").click();
  await expect(desktop.page).toHaveURL(/\/account$/);
  for (const secret of ["", "guess", "A".repeat(43)]) {
    const poll = await request.post(`${MAIN}/api/qr/poll`, { data: { id, secret } });
    expect(poll.status()).toBe(404);
    const body = await poll.json();
    expect(body).toEqual({ code: "not_found", message: "Not found." });
  }
  await desktop.context.close();
  await phone.context.close();
  await intruder.context.close();
});

test("a code someone else approved is refused with \"Not me\": nothing is kept and that session ends", async ({ browser, watch, request }) => {
  const stranger = await signedInPhone(browser, watch);
  const desktop = await desktopShowingQr(browser, watch);
  await stranger.page.goto(desktop.url);
  await stranger.page.getByTestId("qr-approve").click();
  await expect(desktop.page.getByTestId("qr-status")).toHaveAttribute("data-state", "confirm");
  await desktop.page.getByTestId("qr-not-me").click();
  // A fresh code, still signed out.
  await expect(desktop.page.getByTestId("qr-status")).toHaveAttribute("data-state", "pending");
  expect(await storedTokens(desktop.page)).toBeNull();
  const phoneTokens = (await storedTokens(stranger.page))!;
  const sessions = async () => {
    const answer = await request.post(`${MAIN}/api/sessions`, { headers: { Authorization: `Bearer ${phoneTokens.access_token}` } });
    return (await answer.json()).sessions.length;
  };
  await expect.poll(sessions).toBe(1);
  await desktop.context.close();
  await stranger.context.close();
});
