import { test, expect, hydrated, register, uniqueName, MAIN } from "./helpers";

/** Sesame follows its own links without reloading (`ui::nav`, no leptos router): these pin down
 * what a router would otherwise promise. */
test.describe("moving between pages", () => {
  test("a link opens its page in place, and Back and Forward return", async ({ page }) => {
    await register(page, uniqueName("nav"));
    // A reload would forget this.
    await page.evaluate(() => ((window as any).stillHere = true));
    const nav = page.locator(".topbar nav");

    await nav.getByRole("link", { name: "Sessions" }).click();
    await expect(page).toHaveURL(/\/sessions$/);
    await expect(page.getByTestId("sessions")).toBeVisible();
    await expect(nav.getByRole("link", { name: "Sessions" })).toHaveAttribute("aria-current", "page");
    await expect(nav.getByRole("link", { name: "Account" })).not.toHaveAttribute("aria-current", /.*/);

    await page.goBack();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("account-username")).toBeVisible();
    await page.goForward();
    await expect(page).toHaveURL(/\/sessions$/);
    await expect(page.getByTestId("sessions")).toBeVisible();
    expect(await page.evaluate(() => (window as any).stillHere)).toBe(true);
  });

  test("a click with Ctrl (or ⌘) is left to the browser: the page opens in a new tab", async ({ page, context, watch }) => {
    await register(page, uniqueName("newtab"));
    const opened = context.waitForEvent("page");
    await page.locator(".topbar nav").getByRole("link", { name: "Security" }).click({ modifiers: ["ControlOrMeta"] });
    const tab = await opened;
    watch(tab);
    await tab.waitForLoadState();
    expect(new URL(tab.url()).pathname).toBe("/security");
    await expect(page).toHaveURL(/\/account$/);
  });

  test("a page opened directly hydrates in one pass from the server's HTML, chunk and all", async ({ page }) => {
    await register(page, uniqueName("direct"));
    for (const path of ["/security", "/sessions", "/account"]) {
      await page.goto(path);
      await hydrated(page);
      await expect(page.locator("main")).not.toContainText("Loading…");
    }
    // `page` fails the test on any hydration warning in the console.
  });

  test("an unknown address is a 404 page in the app's frame, in both renders", async ({ page, request }) => {
    const response = await request.get(`${MAIN}/no/such/page`);
    expect(response.status()).toBe(404);
    expect(response.headers()["content-type"]).toContain("text/html");
    expect(await response.text()).toContain("This page does not exist.");

    await page.goto("/no/such/page");
    await hydrated(page);
    await expect(page.locator("main")).toContainText("This page does not exist.");
    await page.locator(".topbar").getByRole("link", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole("button", { name: /^Sign in$/ })).toBeVisible();
  });
});
