// Drives the web demo in headless Chromium to the state the README shows, then saves a PNG.
// Run by devtools/screenshot.py; env: BOILER_HOSTING_URL, BOILER_CHROMIUM, BOILER_SCREENSHOT
// (the PNG to write), BOILER_EXPECTED (JSON: alice's numUpcoming, hq's meetingsTotal).
import { chromium } from "playwright-core";

const url = process.env.BOILER_HOSTING_URL;
const out = process.env.BOILER_SCREENSHOT;
const expected = JSON.parse(process.env.BOILER_EXPECTED);
const live = process.env.BOILER_LIVE_URL; // set: the meeting is read through the live server
const TIMEOUT = 30000;
const FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
];

async function waitForText(page, selector, text) {
  try {
    await page.waitForFunction(
      ([sel, want]) => document.querySelector(sel)?.textContent.trim() === want,
      [selector, text], { timeout: TIMEOUT });
  } catch {
    const seen = await page.locator(selector).first().textContent().catch(() => null);
    throw new Error(`${selector} should read ${JSON.stringify(text)}, is ${JSON.stringify(seen)}`);
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.BOILER_CHROMIUM, headless: true, args: FLAGS,
  });
  try {
    // Fixed locale and time zone: the seed's fixed hour always renders the same way.
    const context = await browser.newContext({
      viewport: { width: 820, height: 900 }, deviceScaleFactor: 1,
      locale: "en-US", timezoneId: "America/Los_Angeles", colorScheme: "light",
    });
    const page = await context.newPage();
    const query = live ? `?via=live&live=${encodeURIComponent(live)}` : "";
    await page.goto(`${url}/${query}#alice`, { waitUntil: "load" }); // #alice signs in on load
    await waitForText(page, "#title", "Project kickoff");
    if (live) await waitForText(page, "#meeting-source", `Read through the live server (${live})`);
    await waitForText(page, "#num-attending", "2");
    await waitForText(page, "#num-upcoming", String(expected.numUpcoming));
    await waitForText(page, "#meetings-total", String(expected.meetingsTotal));
    // Two commands, each applied by its Cloud Function and shown live: out, then in again.
    await page.click("#toggle-attendance");
    await waitForText(page, "#commands li:first-child .status", "applied");
    await waitForText(page, "#num-attending", "1");
    await page.click("#toggle-attendance");
    await waitForText(page, "#commands li:first-child .status", "applied");
    await waitForText(page, "#num-attending", "2");
    // The rules at work: another user's view is not alice's to read.
    await page.click('#peek button[data-peek="bob"]');
    await page.waitForFunction(
      () => document.querySelector("#peek-result").className === "denied", null,
      { timeout: TIMEOUT });
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: out, fullPage: true });
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(`screenshot: ${error.message}`);
  process.exit(1);
});
