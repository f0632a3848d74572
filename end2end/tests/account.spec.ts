import { test, expect, register, signIn, storedTokens, uniqueName, newWatchedPage, hydrated, MAIN, SHORT } from "./helpers";

test("register, stay signed in across reloads, sign out, and the old token is refused", async ({ page, request }) => {
  const name = uniqueName("acct");
  await register(page, name);
  await expect(page.getByTestId("account-method")).toHaveText(/Password|密码/);

  await page.reload();
  await expect(page.getByTestId("account-username")).toHaveText(name);
  await expect(page, "the title is in the page the server sends").toHaveTitle("Sesame");
  const tokens = await storedTokens(page);
  expect(tokens?.access_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  expect(tokens?.refresh_token).toBeTruthy();

  const me = await request.post(`${MAIN}/api/me`, { headers: { Authorization: `Bearer ${tokens!.access_token}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).username).toBe(name);

  await page.getByTestId("sign-out").click();
  await expect(page).toHaveURL(/\/login/);
  expect(await storedTokens(page)).toBeNull();
  const refused = await request.post(`${MAIN}/api/me`, { headers: { Authorization: `Bearer ${tokens!.access_token}` } });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).code).toBe("session_ended");
  const refreshRefused = await request.post(`${MAIN}/api/refresh`, { data: { refresh_token: tokens!.refresh_token } });
  expect(refreshRefused.status()).toBe(401);

  // The browser stays known to the account after signing out, and says so when it signs in.
  const known = await page.evaluate(() => JSON.parse(localStorage.getItem("sesame.known_browser") ?? "{}"));
  expect(known[name]).toMatch(/^[\w-]{70,}$/);
  const sent = page.waitForRequest((r) => r.url().endsWith("/api/login"));
  await signIn(page, name);
  await expect(page).toHaveURL(/\/account$/);
  expect(JSON.parse((await sent).postData() ?? "{}").known_browser).toBe(known[name]);
});

test("a session ended from another device is signed out on its next action", async ({ page, browser, watch }) => {
  const name = uniqueName("kick");
  await register(page, name);

  const otherContext = await browser.newContext();
  const other = await newWatchedPage(otherContext, watch);
  // Its notice poll would sign it out at once (security.spec.ts). Held unanswered here, as by a
  // proxy that sits on long polls, the tab learns on its next action.
  await other.route("**/api/notices/poll", () => {});
  await signIn(other, name);

  await page.getByRole("link", { name: /Sessions|登录设备/ }).click();
  await expect(page.getByTestId("session")).toHaveCount(2);
  await expect(page.getByTestId("this-device")).toHaveCount(1);
  await page.getByTestId("end-session").click();
  await expect(page.getByTestId("session")).toHaveCount(1);

  await other.getByRole("link", { name: /Sessions|登录设备/ }).click();
  await expect(other).toHaveURL(/\/login/);
  expect(await storedTokens(other)).toBeNull();
  await otherContext.close();
});

test("signing out in one tab signs out the other tabs, and signing in brings them back", async ({ page, context, watch }) => {
  const name = uniqueName("tabs");
  await register(page, name);
  const second = await newWatchedPage(context, watch);
  await second.goto(`${MAIN}/account`);
  await expect(second.getByTestId("account-username")).toBeVisible();
  await page.getByTestId("sign-out").click();
  await expect(second).toHaveURL(/\/login/);

  // And signing in again in one tab brings the others along.
  await signIn(page, name);
  await expect(second).toHaveURL(/\/account$/);
  await expect(second.getByTestId("account-username")).toHaveText(name);
});

test("an expired access token is renewed without the user noticing", async ({ page, request }) => {
  // This server issues access tokens that live 3 seconds.
  const name = uniqueName("renew");
  await register(page, name, SHORT);
  const before = (await storedTokens(page))!;
  await page.waitForTimeout(4_000);

  const stale = await request.post(`${SHORT}/api/me`, { headers: { Authorization: `Bearer ${before.access_token}` } });
  expect(stale.status()).toBe(401);
  expect((await stale.json()).code).toBe("token_expired");

  await page.getByRole("link", { name: /Sessions|登录设备/ }).click();
  await expect(page.getByTestId("session")).toHaveCount(1);
  await page.getByRole("link", { name: /Account|账户/ }).click();
  await expect(page.getByTestId("account-username")).toHaveText(name);
  const after = (await storedTokens(page))!;
  expect(after.access_token).not.toBe(before.access_token);
  expect(after.refresh_token).not.toBe(before.refresh_token);
});

test("two tabs renewing the same session at the same moment both stay signed in", async ({ page, context, watch }) => {
  // Access tokens on this server live 3 seconds, so both tabs must renew before their next call.
  const name = uniqueName("race");
  await register(page, name, SHORT);
  const second = await newWatchedPage(context, watch);
  await second.goto(`${SHORT}/account`);
  await expect(second.getByTestId("account-username")).toHaveText(name);
  await page.waitForTimeout(4_000);

  const sessionsLink = /Sessions|登录设备/;
  await Promise.all([
    page.getByRole("link", { name: sessionsLink }).click(),
    second.getByRole("link", { name: sessionsLink }).click(),
  ]);
  await expect(page.getByTestId("session")).toHaveCount(1);
  await expect(second.getByTestId("session")).toHaveCount(1);
  for (const tab of [page, second]) {
    await tab.reload();
    await expect(tab.getByTestId("session")).toHaveCount(1);
  }
});

test("pages for signed-in users send everyone else to sign in and back", async ({ page }) => {
  await page.goto(`${MAIN}/sessions`);
  await hydrated(page);
  await expect(page).toHaveURL(/\/login\?next=%2Fsessions|\/login\?next=\/sessions/);
  const name = uniqueName("back");
  await page.goto(`${MAIN}/register?next=/sessions`);
  await hydrated(page);
  await page.getByLabel(/Username|用户名/).fill(name);
  await page.getByLabel(/Password|密码/).fill("correct horse battery");
  await page.getByRole("button", { name: /Register|注册/ }).click();
  await expect(page).toHaveURL(/\/sessions$/);
});

test.describe("in Chinese", () => {
  test.use({ locale: "zh-CN" });

  test("a Chinese browser gets the Chinese interface, rendered and hydrated alike", async ({ page }) => {
    await page.goto(`${MAIN}/login`);
    await hydrated(page);
    await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
    await expect(page.getByRole("heading", { name: "登录", exact: true })).toBeVisible();
    await register(page, uniqueName("zh"));
    await expect(page.getByRole("heading", { name: "我的账户" })).toBeVisible();
  });
});

test("a thief who renewed first is caught: the tab presents its token again and the session ends", async ({ page, request }) => {
  // Access tokens on this server live 3 seconds; the refresh grace is 2 seconds.
  const name = uniqueName("thief");
  await register(page, name, SHORT);
  const stolen = (await storedTokens(page))!;
  await page.waitForTimeout(3_500);
  // The thief renews with a copy of the refresh token, moments before the tab needs to.
  const theirs = await request.post(`${SHORT}/api/refresh`, { data: { refresh_token: stolen.refresh_token } });
  expect(theirs.status()).toBe(200);
  const thief = await theirs.json();

  const raced = page.waitForResponse((r) => r.url().endsWith("/api/refresh") && r.status() === 409);
  await page.getByRole("link", { name: /Sessions|登录设备/ }).click();
  expect((await (await raced).json()).code).toBe("refresh_race");
  // After the grace the tab presents its token once more: reuse, so the session ends, the
  // thief's fresh tokens with it, and this tab is signed out.
  await expect(page).toHaveURL(/\/login/, { timeout: 10_000 });
  // Checked with the thief's refresh token: their 3-second access token may have expired by
  // now on a slow machine, and would then answer token_expired whether or not the session ended.
  const after = await request.post(`${SHORT}/api/refresh`, { data: { refresh_token: thief.refresh_token } });
  expect(after.status()).toBe(401);
  expect((await after.json()).code).toBe("session_ended");
});
