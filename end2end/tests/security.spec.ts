import { devices, type Page } from "@playwright/test";
import { test, expect, register, signIn, submitSignIn, storedTokens, uniqueName, newWatchedPage, hydrated, MAIN, PASSWORD } from "./helpers";

const SAFARI_ON_MAC = devices["Desktop Safari"].userAgent;

/** Resolves once the page's notice watcher holds a cursor and waits for news. */
function noticeWatcherWaiting(page: Page) {
  return page.waitForRequest((r) => r.url().endsWith("/api/notices/poll") && /"after":\d/.test(r.postData() ?? ""));
}

test("a sign-in elsewhere shows up within 2 s, and that session can be ended from the notice", async ({ page, browser, watch }) => {
  const name = uniqueName("ntc");
  const waiting = noticeWatcherWaiting(page);
  await register(page, name);
  await waiting;

  const otherContext = await browser.newContext({ userAgent: SAFARI_ON_MAC });
  const other = await newWatchedPage(otherContext, watch);
  await other.goto(`${MAIN}/login`);
  const signedIn = other.waitForResponse((r) => r.url().endsWith("/api/login") && r.status() === 200);
  await submitSignIn(other, name);
  await signedIn;
  const notice = page.getByTestId("sign-in-notice");
  await expect(notice).toBeVisible({ timeout: 2_000 });
  await expect(notice.getByTestId("notice-device")).toHaveText("Safari on macOS");
  await expect(notice.getByTestId("notice-ip")).toHaveText("127.0.0.1");
  await expect(notice.getByTestId("relative-time")).toHaveText("just now");
  await expect(notice.getByTestId("relative-time")).toHaveAttribute("title", /\d/);

  await notice.getByTestId("notice-end").click();
  await expect(notice.getByTestId("notice-ended")).toBeVisible();
  // The ended session's tab signs out by itself: its own notice watcher learns it at once. (That
  // its next action would too is tested in account.spec.ts; clicking here would race the watcher.)
  await expect(other).toHaveURL(/\/login/);
  expect(await storedTokens(other)).toBeNull();
  await otherContext.close();
});

test("failed attempts to sign in elsewhere are shown with a way to a new password", async ({ page, request }) => {
  const name = uniqueName("tried");
  const waiting = noticeWatcherWaiting(page);
  await register(page, name);
  await waiting;
  for (let n = 1; n <= 5; n++) {
    const refused = await request.post(`${MAIN}/api/login`, {
      data: { username: name, password: `guess ${n}` },
      headers: { "User-Agent": SAFARI_ON_MAC },
    });
    expect(refused.status()).toBe(401);
  }
  const notice = page.getByTestId("failed-sign-ins-notice");
  await expect(notice).toBeVisible();
  await expect(notice.getByTestId("failed-sign-ins-count")).toHaveText(
    "5 failed attempts to sign in to your account in the last hour.",
  );
  await expect(notice.getByTestId("notice-device")).toHaveText("Safari on macOS");
  await notice.getByTestId("notice-change-password").click();
  await expect(page).toHaveURL(/\/security#password$/);
  await expect(page.getByTestId("change-password")).toBeVisible();
  // The attempts are in the activity too.
  await expect(page.locator('[data-testid="activity-event"][data-kind="sign_in_failed"]')).toHaveCount(5);
});

test("changing the password signs the other devices out and keeps this one", async ({ page, browser, watch }) => {
  const name = uniqueName("pwd");
  const waiting = noticeWatcherWaiting(page);
  await register(page, name);
  await waiting;
  const otherContext = await browser.newContext();
  const other = await newWatchedPage(otherContext, watch);
  await signIn(other, name);

  // "That was me" dismisses the notice.
  const notice = page.getByTestId("sign-in-notice");
  await expect(notice).toBeVisible();
  await notice.getByTestId("notice-dismiss").click();
  await expect(notice).toHaveCount(0);

  await page.getByRole("link", { name: /^(Security|安全)$/ }).click();
  const form = page.getByTestId("change-password");
  await form.getByLabel(/Current password/).fill("not the password");
  await form.getByLabel(/^New password/).fill("a brand new passphrase");
  await form.getByLabel(/Repeat/).fill("a brand new passphrase");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("password-status")).toHaveText("Wrong password.");
  await expect(page).toHaveURL(/\/security$/);

  await form.getByLabel(/Current password/).fill(PASSWORD);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("password-status")).toHaveText(/Other sessions signed out: 1/);

  // The other device's waiting notice poll is woken and told its session ended: it signs out
  // without waiting for its next action.
  await expect(other).toHaveURL(/\/login/, { timeout: 3_000 });
  expect(await storedTokens(other)).toBeNull();

  // This device stays signed in, and the history shows what happened.
  await page.reload();
  await expect(page.locator('[data-testid="activity-event"][data-kind="password_changed"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="activity-event"][data-kind="sign_in_failed"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="activity-event"][data-kind="sign_in"]')).toHaveCount(2);
  await otherContext.close();
});

test("deleting the account asks for the password, confirms, signs out and frees the name", async ({ page, request }) => {
  const name = uniqueName("del");
  await register(page, name);
  await page.goto(`${MAIN}/security`);
  const zone = page.getByTestId("delete-account");
  await zone.getByTestId("delete-start").click();
  await zone.getByTestId("delete-password").fill("not the password");
  await zone.getByTestId("delete-continue").click();
  await expect(zone.getByTestId("delete-question")).toContainText(name);
  await zone.getByTestId("delete-final").click();
  await expect(zone.getByTestId("delete-error")).toHaveText("Wrong password.");

  await zone.getByTestId("delete-password").fill(PASSWORD);
  await zone.getByTestId("delete-continue").click();
  await zone.getByTestId("delete-final").click();
  await expect(page).toHaveURL(/\/login/);
  expect(await storedTokens(page)).toBeNull();

  const login = await request.post(`${MAIN}/api/login`, { data: { username: name, password: PASSWORD } });
  expect(login.status()).toBe(401);
  const again = await request.post(`${MAIN}/api/register`, { data: { username: name, password: PASSWORD } });
  expect(again.status()).toBe(200);
});

test("a wide screen shows the QR code beside the password form; a phone shows the form first", async ({ page, browser, watch }) => {
  await page.goto(`${MAIN}/login`);
  await hydrated(page);
  await expect(page.getByTestId("qr-panel")).toBeVisible();
  await expect(page.getByTestId("qr-code")).toBeVisible();
  await expect(page.getByLabel(/Password|密码/)).toBeVisible();

  const phoneContext = await browser.newContext({ ...devices["Pixel 7"] });
  const phone = await newWatchedPage(phoneContext, watch);
  await phone.goto(`${MAIN}/login`);
  await hydrated(phone);
  await expect(phone.getByLabel(/Password|密码/)).toBeVisible();
  await expect(phone.getByTestId("qr-panel")).toHaveCount(0);
  await phone.getByTestId("show-qr").click();
  await expect(phone.getByTestId("qr-code")).toBeVisible();
  await phoneContext.close();
});

test.describe("in Chinese", () => {
  test.use({ locale: "zh-CN" });

  test("the security page and relative times are in Chinese", async ({ page }) => {
    await register(page, uniqueName("zhsec"));
    await page.getByRole("link", { name: "安全", exact: true }).click();
    await expect(page.getByRole("heading", { name: "账户安全" })).toBeVisible();
    await expect(page.locator('[data-testid="activity-event"][data-kind="sign_in"]')).toContainText("密码登录");
    await expect(page.getByTestId("relative-time").first()).toHaveText("刚刚");
  });
});
