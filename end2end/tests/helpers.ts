import { test as base, expect, type Page, type BrowserContext } from "@playwright/test";
import { randomBytes } from "node:crypto";

const PORT_BASE = Number(process.env.E2E_PORT_BASE ?? 3100);
export const MAIN = `http://127.0.0.1:${PORT_BASE}`;
export const SHORT = `http://127.0.0.1:${PORT_BASE + 1}`;
export const PASSWORD = "correct horse battery";
/** The main server's private metrics address (see playwright.config.ts). */
export const METRICS = `http://127.0.0.1:${PORT_BASE + 90}`;

/** Statuses the tests provoke on purpose; Chromium logs each such response as a console error. */
const EXPECTED_HTTP_ERRORS = /Failed to load resource: the server responded with a status of (401|403|404|409|410|429)/;

/**
 * `page` that fails the test on any console error or warning (hydration mismatches and panics
 * show up there), and `watch` to apply the same to pages of extra browser contexts.
 */
export const test = base.extend<{ watch: (page: Page) => void }>({
  watch: async ({}, use) => {
    const problems: string[] = [];
    await use((page: Page) => {
      page.on("console", (message) => {
        const type = message.type();
        if ((type === "error" || type === "warning") && !EXPECTED_HTTP_ERRORS.test(message.text())) {
          problems.push(`${type}: ${message.text()}`);
        }
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    });
    expect(problems, "console errors or warnings").toEqual([]);
  },
  page: async ({ page, watch }, use) => {
    watch(page);
    await use(page);
  },
});
export { expect };

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** Waits until the WASM bundle has hydrated the page, so clicks reach Rust handlers. */
export async function hydrated(page: Page) {
  await page.locator("html[data-hydrated]").waitFor({ state: "attached" });
}

export async function register(page: Page, username: string, base = MAIN) {
  await page.goto(`${base}/register`);
  await hydrated(page);
  await page.getByLabel(/Username|用户名/).fill(username);
  await page.getByLabel(/Password|密码/).fill(PASSWORD);
  await page.getByRole("button", { name: /Register|注册/ }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("account-username")).toHaveText(username);
}

export async function signIn(page: Page, username: string, base = MAIN) {
  await page.goto(`${base}/login`);
  await submitSignIn(page, username);
  await expect(page.getByTestId("account-username")).toHaveText(username);
}

/** Fills and sends the sign-in form already on screen. */
export async function submitSignIn(page: Page, username: string) {
  await hydrated(page);
  await page.getByLabel(/Username|用户名/).fill(username);
  await page.getByLabel(/Password|密码/).fill(PASSWORD);
  await page.getByRole("button", { name: /^(Sign in|登录)$/ }).click();
}

export async function storedTokens(page: Page): Promise<{ access_token: string; refresh_token: string } | null> {
  return page.evaluate(() => {
    const raw = localStorage.getItem("sesame.tokens");
    return raw ? JSON.parse(raw) : null;
  });
}

export async function newWatchedPage(context: BrowserContext, watch: (page: Page) => void) {
  const page = await context.newPage();
  watch(page);
  return page;
}
