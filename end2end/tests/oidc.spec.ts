import { devices, type Page } from "@playwright/test";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { test, expect, register, submitSignIn, uniqueName, hydrated, newWatchedPage, MAIN, PASSWORD } from "./helpers";

// The app signing people in through Sesame. Its redirect URI is never really reached: the browser
// is stopped there (page.route), which is where the app would read the code.
const REDIRECT = "https://notes.example/callback";

type App = { client_id: string; client_secret: string };

/** Registers an app the way an operator does: `sesame client add`. */
function addApp(): App {
  const output = execFileSync(
    "./target/debug/sesame",
    ["client", "add", "--id", uniqueName("notes"), "--name", "Notes", "--redirect-uri", REDIRECT],
    { cwd: "..", env: { ...process.env, SESAME_LOG: "warn" } },
  );
  return JSON.parse(output.toString());
}

function base64url(bytes: Buffer) {
  return bytes.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An authorization request as an app makes it (PKCE S256, state, nonce). */
function authorizationRequest(app: App, extra: Record<string, string> = {}) {
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(12));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: REDIRECT,
    scope: "openid profile",
    state,
    nonce: base64url(randomBytes(12)),
    code_challenge: base64url(createHash("sha256").update(verifier).digest()),
    code_challenge_method: "S256",
    ...extra,
  });
  return { url: `${MAIN}/oauth/authorize?${query}`, verifier, state };
}

/** Stops the browser at the app's redirect URI and hands back the query it carried. */
async function landingAtApp(page: Page): Promise<URLSearchParams> {
  const landed = new Promise<URLSearchParams>((resolve) => {
    page.route(`${REDIRECT}**`, async (route) => {
      resolve(new URL(route.request().url()).searchParams);
      await route.fulfill({ status: 200, contentType: "text/plain", body: "the app" });
    });
  });
  return landed;
}

async function exchange(app: App, code: string, verifier: string) {
  const response = await fetch(`${MAIN}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return response.json();
}

async function active(app: App, token: string): Promise<boolean> {
  const response = await fetch(`${MAIN}/oauth/introspect`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, client_id: app.client_id, client_secret: app.client_secret }),
  });
  expect(response.status).toBe(200);
  return (await response.json()).active;
}

/** An account made through the API, so the page itself stays signed out. */
async function accountOnly(page: Page) {
  const name = uniqueName("rp");
  const response = await page.request.post(`${MAIN}/api/register`, { data: { username: name, password: PASSWORD } });
  expect(response.status()).toBe(200);
  return name;
}

test("signed out, a person signs in with a password, allows the app, and the app gets a working code", async ({ page }) => {
  const app = addApp();
  const name = await accountOnly(page);
  const request = authorizationRequest(app);
  const landed = landingAtApp(page);

  await page.goto(request.url);
  await expect(page).toHaveURL(/\/login\?next=/);
  await submitSignIn(page, name);
  await expect(page.getByTestId("consent-app")).toHaveText(/Notes/);
  await expect(page.getByTestId("consent-scopes")).toContainText(/name and @handle|名字和用户名/);
  const allow = page.getByTestId("consent-allow");
  const deny = page.getByTestId("consent-deny");
  // Equally prominent: the same size.
  const [a, d] = [await allow.boundingBox(), await deny.boundingBox()];
  expect(Math.round(a!.height)).toBe(Math.round(d!.height));
  await allow.click();

  const params = await landed;
  expect(params.get("state")).toBe(request.state);
  expect(params.get("iss")).toBe(MAIN);
  const tokens = await exchange(app, params.get("code")!, request.verifier);
  expect(tokens.token_type).toBe("Bearer");
  expect(tokens.id_token.split(".")).toHaveLength(3);
  expect(await active(app, tokens.access_token)).toBe(true);

  // The person sees the app's sign-in among their sessions, and the app under Connected apps;
  // disconnecting it makes the app's tokens inactive at once.
  await page.goto(`${MAIN}/sessions`);
  await hydrated(page);
  await expect(page.locator('[data-testid="session"][data-method="oidc"] [data-testid="session-device"]')).toHaveText(/Notes \(app\)|Notes（应用）/);
  await page.goto(`${MAIN}/security`);
  await hydrated(page);
  const connected = page.locator(`[data-testid="connected-app"][data-client="${app.client_id}"]`);
  await expect(connected).toContainText("Notes");
  await connected.getByTestId("disconnect-app").click();
  await expect(page.getByTestId("apps-none")).toBeVisible();
  expect(await active(app, tokens.access_token)).toBe(false);
  await page.reload();
  await hydrated(page);
  await expect(page.locator('[data-testid="activity-event"][data-kind="app_authorized"]')).toContainText("Notes");
  await expect(page.locator('[data-testid="activity-event"][data-kind="app_disconnected"]')).toContainText("Notes");
});

test("Deny sends the app access_denied, with its state and our iss", async ({ page }) => {
  const app = addApp();
  await register(page, uniqueName("deny"));
  const request = authorizationRequest(app);
  const landed = landingAtApp(page);
  await page.goto(request.url);
  await page.getByTestId("consent-deny").click();
  const params = await landed;
  expect(params.get("error")).toBe("access_denied");
  expect(params.get("state")).toBe(request.state);
  expect(params.get("iss")).toBe(MAIN);
  expect(params.get("code")).toBeNull();
});

test("a redirect_uri the app did not register is shown as an error, never followed", async ({ page }) => {
  const app = addApp();
  await register(page, uniqueName("evil"));
  const request = authorizationRequest(app);
  const evil = request.url.replace(encodeURIComponent(REDIRECT), encodeURIComponent("https://evil.example/cb"));
  let left = false;
  await page.route("https://evil.example/**", (route) => {
    left = true;
    return route.abort();
  });
  await page.goto(evil);
  await expect(page.getByTestId("authorize-error")).toBeVisible();
  expect(left).toBe(false);
  expect(page.url()).toContain(`${MAIN}/oauth/authorize`);
});

test("signed out, a person signs in by scanning the QR code with their phone, then allows the app", async ({ browser, watch }) => {
  const app = addApp();
  const phoneContext = await browser.newContext({ ...devices["Pixel 7"] });
  const phone = await newWatchedPage(phoneContext, watch);
  const name = uniqueName("qrapp");
  await register(phone, name);

  const desktopContext = await browser.newContext({ ...devices["Desktop Chrome"] });
  const desktop = await newWatchedPage(desktopContext, watch);
  const request = authorizationRequest(app);
  const landed = landingAtApp(desktop);
  await desktop.goto(request.url);
  await expect(desktop).toHaveURL(/\/login\?next=/);
  await hydrated(desktop);
  const qr = desktop.getByTestId("qr-code");
  await expect(qr).toBeVisible();
  const image = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  await phone.goto(decoded!.data);
  await phone.getByTestId("qr-approve").click();
  await desktop.getByTestId("qr-continue").click();

  await expect(desktop.getByTestId("consent-app")).toHaveText(/Notes/);
  await desktop.getByTestId("consent-allow").click();
  const params = await landed;
  expect(params.get("code")).toBeTruthy();
  const tokens = await exchange(app, params.get("code")!, request.verifier);
  const claims = JSON.parse(Buffer.from(tokens.id_token.split(".")[1], "base64url").toString());
  expect(claims.preferred_username).toBe(name);
  expect(claims.amr).toEqual(["mca"]);
  await desktopContext.close();
  await phoneContext.close();
});

test("prompt=login asks a signed-in person to sign in again before the app gets a code", async ({ page }) => {
  const app = addApp();
  const name = uniqueName("again");
  await register(page, name);
  // A sign-in from ten minutes ago: not fresh.
  execFileSync("psql", [
    process.env.DATABASE_URL!,
    "-qc",
    `UPDATE sessions SET created_at = now() - interval '10 minutes' WHERE user_id = (SELECT id FROM users WHERE username = '${name}')`,
  ]);
  const request = authorizationRequest(app, { prompt: "login" });
  const landed = landingAtApp(page);
  await page.goto(request.url);
  // The sign-in form stays, although this browser is signed in, until a fresh sign-in.
  await expect(page).toHaveURL(/\/login\?next=.*again=/);
  await page.waitForTimeout(500);
  await expect(page).toHaveURL(/\/login\?/);
  await submitSignIn(page, name);
  await page.getByTestId("consent-allow").click();
  const params = await landed;
  expect(params.get("code")).toBeTruthy();
});

test("discovery, JWKS, token and userinfo allow browser apps (CORS); no /oauth answer is compressed", async () => {
  for (const path of ["/.well-known/openid-configuration", "/oauth/jwks"]) {
    const response = await fetch(`${MAIN}${path}`, { headers: { origin: "https://spa.example", "accept-encoding": "gzip, br" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
  }
  const preflight = await fetch(`${MAIN}/oauth/token`, {
    method: "OPTIONS",
    headers: { origin: "https://spa.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
  const token = await fetch(`${MAIN}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "accept-encoding": "gzip, br" },
    body: "grant_type=authorization_code&code=nothing&client_id=nobody",
  });
  expect(token.status).toBe(401);
  expect(token.headers.get("content-encoding")).toBeNull();
  expect(token.headers.get("cache-control")).toBe("no-store");
  expect(token.headers.get("pragma")).toBe("no-cache");
  const discovery = await (await fetch(`${MAIN}/.well-known/openid-configuration`)).json();
  expect(discovery.issuer).toBe(MAIN);
  expect(discovery.grant_types_supported).toContain("urn:ietf:params:oauth:grant-type:device_code");
  expect(discovery.code_challenge_methods_supported).toEqual(["S256"]);
});
