import { devices, type CDPSession, type Page } from "@playwright/test";
import { test, expect, register, uniqueName, hydrated, newWatchedPage, storedTokens, MAIN, PASSWORD } from "./helpers";

// Passkeys need a domain: the test server (http://127.0.0.1:PORT) is also http://localhost:PORT,
// where Chromium allows WebAuthn on plain http.
const LOCAL = MAIN.replace("127.0.0.1", "localhost");

/** Chromium's virtual authenticator (CDP), like a phone or laptop with a fingerprint reader. */
async function authenticator(page: Page, verified = true) {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: verified,
      automaticPresenceSimulation: true,
    },
  });
  return {
    async setVerified(isUserVerified: boolean) {
      await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified });
    },
    async credentials() {
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      return credentials;
    },
  };
}

async function addPasskey(page: Page, name: string) {
  await page.goto(`${LOCAL}/security`);
  await hydrated(page);
  await expect(page.getByTestId("passkeys-none")).toBeVisible();
  await page.getByTestId("passkey-name").fill(name);
  await page.getByTestId("passkey-add-button").click();
  await expect(page.getByTestId("passkey-status")).toHaveText(/Passkey added|已添加/);
  await expect(page.getByTestId("passkey-name-shown")).toHaveText(name);
}

async function signOut(page: Page) {
  await page.getByTestId("sign-out").click();
  await expect(page).toHaveURL(/\/login/);
}

async function me(page: Page) {
  const tokens = (await storedTokens(page))!;
  const answer = await page.request.post(`${LOCAL}/api/me`, {
    headers: { Authorization: `Bearer ${tokens.access_token}` },
  });
  expect(answer.status()).toBe(200);
  return answer.json();
}

test("add a passkey, sign out, and sign in with it and no username; the other session is told", async ({ page, browser, watch }) => {
  const key = await authenticator(page);
  const name = uniqueName("pk");
  await register(page, name, LOCAL);
  await addPasskey(page, "Test laptop");
  expect(await key.credentials()).toHaveLength(1);
  expect((await key.credentials())[0].isResidentCredential).toBe(true);

  // Another browser, signed in with the password, watches for new sign-ins.
  const other = await newWatchedPage(await browser.newContext(), watch);
  await other.goto(`${LOCAL}/login`);
  await hydrated(other);
  await other.getByLabel(/Username|用户名/).fill(name);
  await other.getByLabel(/Password|密码/).fill(PASSWORD);
  const watching = other.waitForRequest((r) => r.url().endsWith("/api/notices/poll") && /"after":\d/.test(r.postData() ?? ""));
  await other.getByRole("button", { name: /^(Sign in|登录)$/ }).click();
  await expect(other.getByTestId("account-username")).toHaveText(name);
  await watching;

  await page.goto(`${LOCAL}/account`);
  await signOut(page);
  await hydrated(page);
  await expect(page.getByLabel(/Username|用户名/)).toHaveAttribute("autocomplete", "username webauthn");
  await page.getByTestId("passkey-sign-in").click();
  await expect(page.getByTestId("account-username")).toHaveText(name);
  expect((await me(page)).method).toBe("passkey");
  await expect(page.getByTestId("account-method")).toHaveText(/Passkey|通行密钥/);

  const notice = other.getByTestId("sign-in-notice");
  await expect(notice).toBeVisible({ timeout: 5_000 });

  // The sessions list and the activity say how.
  await page.goto(`${LOCAL}/sessions`);
  await expect(page.locator('[data-testid="session"][data-method="passkey"]')).toHaveCount(1);
  await page.goto(`${LOCAL}/security`);
  await expect(page.getByTestId("activity-event").first()).toHaveAttribute("data-kind", "sign_in");
  await expect(page.getByTestId("passkey").first()).not.toContainText(/never used|从未使用/);
});

test("a removed passkey is refused, and nothing is signed in", async ({ page }) => {
  await authenticator(page);
  const name = uniqueName("pk_rm");
  await register(page, name, LOCAL);
  await addPasskey(page, "Old phone");
  await page.getByTestId("passkey-remove").click();
  await expect(page.getByTestId("passkeys-none")).toBeVisible();

  await page.goto(`${LOCAL}/account`);
  await signOut(page);
  await hydrated(page);
  const refused = page.waitForResponse((r) => r.url().endsWith("/api/passkeys/login/finish"));
  await page.getByTestId("passkey-sign-in").click();
  expect((await refused).status()).toBe(401);
  expect((await (await refused).json()).code).toBe("passkey_rejected");
  await expect(page.getByTestId("form-error")).toHaveText(/not accepted|未被接受/);
  expect(await storedTokens(page)).toBeNull();
});

test("without user verification no session is created", async ({ page }) => {
  const key = await authenticator(page);
  await register(page, uniqueName("pk_uv"), LOCAL);
  await addPasskey(page, "Shared tablet");
  await page.goto(`${LOCAL}/account`);
  await signOut(page);
  await hydrated(page);
  await key.setVerified(false);
  await page.getByTestId("passkey-sign-in").click();
  await expect(page.getByTestId("form-error")).not.toBeEmpty();
  await expect(page).toHaveURL(/\/login/);
  expect(await storedTokens(page)).toBeNull();
});

test("on an IP address the passkey button is not shown, and password sign-in works as ever", async ({ page }) => {
  await authenticator(page);
  await page.goto(`${MAIN}/login`);
  await hydrated(page);
  await expect(page.getByRole("button", { name: /^(Sign in|登录)$/ })).toBeEnabled();
  await expect(page.getByTestId("passkey-sign-in")).toHaveCount(0);
  await page.goto(`${LOCAL}/login`);
  await hydrated(page);
  await expect(page.getByTestId("passkey-sign-in")).toBeVisible();
});

test("with approvals confirmed by passkey, the phone asks for it before approving a QR sign-in", async ({ browser, watch }) => {
  const phoneContext = await browser.newContext({ ...devices["Pixel 7"] });
  const phone = await newWatchedPage(phoneContext, watch);
  await authenticator(phone);
  const name = uniqueName("pk_qr");
  await register(phone, name, LOCAL);
  await addPasskey(phone, "My phone");
  await phone.getByTestId("confirm-approvals").check();
  await expect(phone.getByTestId("confirm-approvals")).toBeChecked();

  const desktopContext = await browser.newContext({ ...devices["Desktop Chrome"] });
  const desktop = await newWatchedPage(desktopContext, watch);
  const created = desktop.waitForResponse((r) => r.url().endsWith("/api/qr/create"));
  await desktop.goto(`${LOCAL}/login`);
  const { id } = await (await created).json();

  await phone.goto(`${LOCAL}/qr/${id}`);
  const refused = phone.waitForResponse((r) => r.url().endsWith("/api/qr/approve"));
  await phone.getByTestId("qr-approve").click();
  expect((await refused).status()).toBe(403);
  await expect(phone.getByTestId("confirm-identity")).toBeVisible();
  await phone.getByTestId("verify-passkey").click();
  await expect(phone.getByTestId("qr-result")).toHaveText(/Approved|已确认/);
  await desktop.getByTestId("qr-continue").click();
  await expect(desktop.getByTestId("account-username")).toHaveText(name);

  // Turning the setting off needs a fresh proof too: here the password.
  await phone.goto(`${LOCAL}/security`);
  await hydrated(phone);
  // A click, not uncheck(): the page keeps the box ticked until the proof is given.
  await phone.getByTestId("confirm-approvals").click();
  await expect(phone.getByTestId("confirm-identity")).toBeVisible();
  await expect(phone.getByTestId("confirm-approvals")).toBeChecked();
  await phone.getByTestId("verify-password").fill(PASSWORD);
  await phone.getByTestId("verify-password-submit").click();
  await expect(phone.getByTestId("confirm-approvals")).not.toBeChecked();
  await expect(phone.getByTestId("confirm-identity")).toHaveCount(0);

  await desktopContext.close();
  await phoneContext.close();
});
