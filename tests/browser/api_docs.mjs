// Drives the HTTP API's interactive docs (/docs, Swagger UI) in headless Chromium.
// Run by tests/test_api_docs.py; env: BOILER_API_URL (the api function's base URL),
// BOILER_CHROMIUM, BOILER_TOKEN (an ID token for alice), BOILER_OPERATIONS (how many
// operations openapi.json has), BOILER_SCREENSHOTS.
// Prints one JSON line (the origins the page requested, the call's status and body); exits 1
// with a message on the first failed expectation.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const api = process.env.BOILER_API_URL;
const operations = Number(process.env.BOILER_OPERATIONS);
const screenshots = process.env.BOILER_SCREENSHOTS;
const TIMEOUT = Number(process.env.BOILER_BROWSER_TIMEOUT_MS || 20000);

const browser = await chromium.launch({
  executablePath: process.env.BOILER_CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const page = await browser.newPage();
const origins = new Set();
page.on("request", (request) => origins.add(new URL(request.url()).origin));
try {
  await page.goto(`${api}/docs`);
  // Every operation of the document is rendered.
  await page.waitForFunction((n) => document.querySelectorAll(".opblock").length === n,
    operations, { timeout: TIMEOUT });
  // Sign in as the Authorize dialog would, then try GET /v1/agendas/{uid} for alice.
  await page.evaluate((token) => window.ui.preauthorizeApiKey("firebase", token),
    process.env.BOILER_TOKEN);
  const operation = page.locator("#operations-Agenda-getAgenda");
  await operation.locator(".opblock-summary").click();
  await operation.locator(".try-out__btn").click();
  await operation.locator('input[placeholder="uid"]').fill("alice");
  await operation.locator(".execute").click();
  const response = operation.locator(".live-responses-table tbody tr.response").first();
  await response.waitFor({ timeout: TIMEOUT });
  const status = response.locator(".response-col_status");
  const body = await response.locator(".response-col_description pre.microlight").first()
    .textContent();
  console.log(JSON.stringify({
    origins: [...origins],
    status: (await status.textContent()).trim(),
    body,
  }));
} catch (error) {
  if (screenshots) {
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, "api-docs.png"), fullPage: true });
  }
  console.error(`api docs: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
