// Drives the web demo in headless Chromium (playwright-core + the system's chromium).
// Run by tests/test_web_demo.py; env: BOILER_HOSTING_URL, BOILER_CHROMIUM, BOILER_SCREENSHOTS,
// BOILER_EXPECTED (JSON: the seeded agendas and boards as tests/meeting_lists.py computes them,
// and each meeting's locationId); BOILER_LIVE_URL (the live server's /ws) runs the live-server
// scenario instead, which prints `step NAME JSON` lines and waits for `ok` on stdin from the test.
// Prints one JSON line of timings; exits 1 with a message on the first failed expectation.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const url = process.env.BOILER_HOSTING_URL;
const executablePath = process.env.BOILER_CHROMIUM;
const screenshots = process.env.BOILER_SCREENSHOTS;
const expected = JSON.parse(process.env.BOILER_EXPECTED || "null");
const TIMEOUT = Number(process.env.BOILER_BROWSER_TIMEOUT_MS || 20000);
const FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];

const timings = {};
const began = Date.now();
const mark = (name) => (timings[name] = Date.now() - began);

/** Wait until the element's text equals `expected` (`contains`: includes it); fail naming
 * what was seen instead. */
async function waitForText(page, who, selector, expected, { contains = false, timeout = TIMEOUT } = {}) {
  try {
    await page.waitForFunction(
      ([sel, text, part]) => {
        const seen = document.querySelector(sel)?.textContent.trim();
        return part ? seen?.includes(text) : seen === text;
      },
      [selector, expected, contains],
      { timeout },
    );
  } catch {
    const seen = await page.locator(selector).first().textContent().catch(() => null);
    const state = async (id) => JSON.stringify(await page.locator(id).textContent().catch(() => null));
    throw new Error(`${who}: ${selector} should ${contains ? "contain" : "read"} ` +
      `${JSON.stringify(expected)}, is ${JSON.stringify(seen)} after ${timeout} ms; view state: ` +
      `${await state("#view-state")}; live state: ${await state("#live-state")}`);
  }
}

/** Wait until `compute` (run in the page) returns `wanted` (compared as JSON). */
async function waitForValue(page, who, what, compute, wanted) {
  const json = JSON.stringify(wanted);
  try {
    await page.waitForFunction(`JSON.stringify((${compute})()) === ${JSON.stringify(json)}`,
      null, { timeout: TIMEOUT });
  } catch {
    const seen = await page.evaluate(compute).catch((error) => `(${error.message})`);
    throw new Error(`${who}: ${what} should be ${json}, is ${JSON.stringify(seen)} ` +
      `after ${TIMEOUT} ms`);
  }
}

const nextIds = () => [...document.querySelectorAll("#board-next li")].map((li) => li.dataset.meetingId);
const agendaRows = () => [...document.querySelectorAll("#agenda li")].map((item) => {
  const text = (name) => item.querySelector(`.entry-${name}`)?.textContent;
  const when = text("when");
  return [item.dataset.meetingId, text("title"), text("status"), text("where"),
    when === "unscheduled" ? "unscheduled" : when ? "scheduled" : when];
});
const STATUS_LABELS = { "not-started": "not started", "in-session": "in session", closed: "closed" };

/** The agenda card shows `agenda` (the view agendas/{uid}): count, order, every entry's text. */
async function checkAgenda(page, who, agenda) {
  await waitForText(page, who, "#num-upcoming", String(agenda.numUpcoming));
  await waitForValue(page, who, "the agenda", agendaRows, agenda.meetings.map((meeting) => [
    meeting.meetingId,
    meeting.title,
    STATUS_LABELS[meeting.status],
    meeting.address ?? "no location",
    meeting.startsAt === null ? "unscheduled" : "scheduled",
  ]));
}

/** The board card shows `board` (the view locationBoards/{locationId}), with its counts. */
async function checkBoard(page, who, board, counts = {}) {
  const want = { ...board, ...counts };
  await waitForText(page, who, "#board-address", want.address);
  await waitForText(page, who, "#meetings-total", String(want.meetingsTotal));
  await waitForText(page, who, "#meetings-in-session", String(want.meetingsInSession));
  await waitForText(page, who, "#attending-in-session", String(want.attendingInSession));
  await waitForValue(page, who, "next meetings on the board", nextIds,
    want.next.map((entry) => entry.meetingId));
  await waitForValue(page, who, "the chosen board",
    () => document.querySelector('#boards [aria-pressed="true"]')?.dataset.locationId,
    want.locationId);
}

async function openFromAgenda(page, who, meetingId) {
  await page.click(`#agenda li[data-meeting-id="${meetingId}"] button`);
  await waitForValue(page, who, "the open agenda entry",
    () => document.querySelector('#agenda [aria-current="true"]')?.parentElement.dataset.meetingId,
    meetingId);
}

async function attendingUids(page) {
  return page.$$eval("#attending li", (items) => items.map((item) => item.dataset.uid));
}

function expectEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function openAs(browser, uid, errors, search = "", watch = () => {}) {
  // One context per user: separate storage, like two people on two machines.
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  watch(page);
  page.on("pageerror", (error) => errors.push(`${uid}: ${error.message}`));
  page.on("console", (msg) => msg.type() === "error" && errors.push(`${uid} console: ${msg.text()}`));
  page.on("response", (response) => response.status() >= 400 &&
    errors.push(`${uid}: HTTP ${response.status()} for ${response.url()}`));
  await page.goto(`${url}/${search}`, { waitUntil: "load" });
  await page.click(`#users button[data-uid="${uid}"]`);
  return page;
}

async function main() {
  const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
  mark("launched");
  const errors = [];
  try {
    const bob = await openAs(browser, "bob", errors);
    await waitForText(bob, "bob", "#title", "Project kickoff");
    await waitForText(bob, "bob", "#num-attending", "2");
    expectEqual(await attendingUids(bob), ["alice", "bob"], "bob sees who attends");
    await waitForText(bob, "bob", "#toggle-attendance", "I'm not attending");
    mark("bob_sees_view");

    const alice = await openAs(browser, "alice", errors);
    await waitForText(alice, "alice", "#num-attending", "2");
    mark("alice_sees_view");

    // The agendas list each user's meetings by start; the board follows the open meeting.
    const { agendas, boards, locations } = expected;
    const hq = boards[locations.kickoff];
    await checkAgenda(alice, "alice", agendas.alice);
    await checkAgenda(bob, "bob", agendas.bob);
    await checkBoard(alice, "alice", hq);
    mark("agenda_and_board_shown");
    // An entry at another location opens its meeting view, and the board moves there.
    const elsewhere = agendas.alice.meetings.find((m) => locations[m.meetingId] !== locations.kickoff);
    await openFromAgenda(alice, "alice", elsewhere.meetingId);
    await waitForText(alice, "alice", "#title", elsewhere.title);
    await waitForText(alice, "alice", "#address", elsewhere.address);
    await checkBoard(alice, "alice", boards[locations[elsewhere.meetingId]]);
    await alice.click(`#boards button[data-location-id="${locations.kickoff}"]`); // the chooser
    await checkBoard(alice, "alice", hq);
    await openFromAgenda(alice, "alice", "kickoff");
    await waitForText(alice, "alice", "#title", "Project kickoff");
    await waitForText(alice, "alice", "#num-attending", "2");
    await checkBoard(alice, "alice", hq);
    mark("agenda_opens_meetings");

    // Carol's request is older than one of hers already applied (the test recorded it):
    // boiler marks it superseded, it changes nothing, and the page says so.
    const carol = await openAs(browser, "carol", errors);
    await waitForText(carol, "carol", "#toggle-attendance", "I'm attending");
    await carol.click("#toggle-attendance");
    await waitForText(carol, "carol", "#commands li:first-child .status", "superseded");
    const reason = await carol.locator("#commands li:first-child .reason").textContent();
    if (!reason.includes("superseded by from-another-tab")) {
      throw new Error(`carol: superseded reason should name the newer request, is ${reason}`);
    }
    await waitForText(carol, "carol", "#num-attending", "2");
    await carol.context().close();
    mark("carol_superseded");

    // Bob leaves: command -> AttendanceRequest trigger -> ticket -> view triggers -> both pages.
    const clicked = Date.now();
    await bob.click("#toggle-attendance");
    await waitForText(bob, "bob", "#commands li:first-child .status", "applied");
    await waitForText(bob, "bob", "#num-attending", "1");
    timings.toggle_to_bob_view_ms = Date.now() - clicked;
    await waitForText(alice, "alice", "#num-attending", "1");
    timings.toggle_to_alice_view_ms = Date.now() - clicked;
    // Two hops: ticket -> meeting card -> the board's attendance in session.
    await checkBoard(alice, "alice", hq, { attendingInSession: hq.attendingInSession - 1 });
    timings.toggle_to_alice_board_ms = Date.now() - clicked;
    expectEqual(await attendingUids(alice), ["alice"], "alice sees bob gone");
    await waitForText(bob, "bob", "#toggle-attendance", "I'm attending");

    // The rules: bob cannot read alice's view, nor change the meeting status (not a host).
    await bob.click('#peek button[data-peek="alice"]');
    await bob.waitForFunction(() => document.querySelector("#peek-result").className === "denied",
      null, { timeout: TIMEOUT });
    await bob.click('[data-status="closed"]');
    await waitForText(bob, "bob", "#commands li:first-child .status", "denied");
    mark("rules_checked");

    // Bob comes back: both pages show 2 again, one of them with a hearing aid.
    await bob.click("#toggle-attendance");
    await waitForText(bob, "bob", "#commands li:first-child .status", "applied");
    await waitForText(alice, "alice", "#num-attending", "2");
    await waitForText(alice, "alice", "#num-hearing-aid", "1");
    await waitForText(bob, "bob", "#num-attending", "2");
    await checkBoard(alice, "alice", hq);
    mark("bob_back");

    // The host: a no-op transition is rejected by the command, closing is applied and shows
    // live on both pages, after which attendance commands are rejected.
    await alice.click('[data-status="in-session"]');
    await waitForText(alice, "alice", "#commands li:first-child .status", "rejected");
    await waitForText(alice, "alice", "#commands li:first-child .reason",
      "(meeting kickoff is already 'in-session')");
    await alice.click('[data-status="closed"]');
    await waitForText(alice, "alice", "#commands li:first-child .status", "applied");
    await waitForText(alice, "alice", "#in-session", "not in session");
    await waitForText(bob, "bob", "#in-session", "not in session");
    // Closed: off every participant's agenda, out of the board's session counts.
    for (const [page, who] of [[alice, "alice"], [bob, "bob"]]) {
      const agenda = agendas[who];
      await checkAgenda(page, who, {
        numUpcoming: agenda.numUpcoming - 1,
        meetings: agenda.meetings.filter((m) => m.meetingId !== "kickoff"),
      });
    }
    await checkBoard(alice, "alice", hq, {
      meetingsInSession: hq.meetingsInSession - 1,
      attendingInSession: hq.attendingInSession - 2, // alice and bob attended the kickoff
    });
    mark("closed_leaves_agendas");
    await bob.click("#toggle-attendance");
    await waitForText(bob, "bob", "#commands li:first-child .status", "rejected");
    await waitForText(bob, "bob", "#commands li:first-child .reason", "(meeting kickoff is closed)");
    await waitForText(bob, "bob", "#num-attending", "2");
    mark("host_checked");

    if (screenshots) {
      mkdirSync(screenshots, { recursive: true });
      await bob.screenshot({ path: join(screenshots, "web-demo-bob.png"), fullPage: true });
      await alice.screenshot({ path: join(screenshots, "web-demo-alice.png"), fullPage: true });
    }
    if (errors.length) throw new Error(`page errors:\n${errors.join("\n")}`);
    mark("done");
    console.log(JSON.stringify(timings));
  } finally {
    await browser.close();
  }
}

// ------------------------------------------------------------------ the live server's /ws
const liveUrl = process.env.BOILER_LIVE_URL;
const MEETING_PATH = "users/alice/meetingSessions/kickoff";
const stdin = createInterface({ input: process.stdin });
const stdinLines = stdin[Symbol.asyncIterator]();

/** Ask the test to check or do NAME (it answers `ok` or why not on stdin). */
async function step(name, detail = {}) {
  console.log(`step ${name} ${JSON.stringify(detail)}`);
  const { value, done } = await stdinLines.next();
  if (done || value !== "ok") throw new Error(`step ${name}: ${done ? "no answer" : value}`);
}

/** What the meeting card shows, as HTML: two pages showing the same view must be equal. */
const meetingCard = () => ["#title", "#address", "#in-session", ".counts", "#attending",
  "#toggle-attendance"].map((selector) => document.querySelector(`#meeting ${selector}`).outerHTML);

/**
 * Record what a page says over WebSockets and which of its requests ask Firestore for the
 * meeting view (the SDK's Listen channel names the document in a form-encoded body).
 */
function recorder() {
  const seen = { sent: [], received: [], sdkRequests: 0 };
  const watch = (page) => {
    page.on("websocket", (socket) => {
      if (!socket.url().startsWith(liveUrl)) return;
      socket.on("framesent", ({ payload }) => seen.sent.push(JSON.parse(payload)));
      socket.on("framereceived", ({ payload }) => seen.received.push(JSON.parse(payload)));
    });
    page.on("request", (request) => {
      const body = request.postData() ?? "";
      const named = `${request.url()} ${decodeURIComponent(body.replace(/\+/g, " "))}`;
      if (named.includes(MEETING_PATH)) seen.sdkRequests += 1;
    });
  };
  return { seen, watch };
}

function tokenExpiry(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(Buffer.from(payload, "base64").toString()).exp;
}

async function liveMain() {
  const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
  mark("launched");
  const errors = [];
  try {
    // Without ?live= the switch cannot be turned to the live server, and says why.
    const sdk = await openAs(browser, "alice", errors);
    await waitForText(sdk, "alice (SDK)", "#num-attending", "2");
    expectEqual(await sdk.isDisabled('#via [data-via="live"]'), true, "live switch without ?live=");
    await waitForText(sdk, "alice (SDK)", "#via-hint", "./dev up", { contains: true });
    await waitForText(sdk, "alice (SDK)", "#meeting-source", "Read through the Firebase SDK");

    // ?via=live: the meeting comes through /ws, rendered exactly as the SDK's page renders it.
    const { seen, watch } = recorder();
    const search = `?via=live&live=${encodeURIComponent(liveUrl)}`;
    const page = await openAs(browser, "alice", errors, search, watch);
    await waitForText(page, "alice (live)", "#title", "Project kickoff");
    await waitForText(page, "alice (live)", "#num-attending", "2");
    await waitForText(page, "alice (live)", "#live-state", "Live server open", { contains: true });
    expectEqual(await page.getAttribute("#meeting", "data-source"), "live", "the page's source");
    expectEqual(await page.getAttribute('#via [data-via="live"]', "aria-pressed"), "true",
      "the switch under ?via=live");
    expectEqual(await page.evaluate(meetingCard), await sdk.evaluate(meetingCard),
      "the meeting card read through /ws and through the SDK");
    const subscribed = seen.sent.filter((m) => m.type === "subscribe").map((m) => m.path);
    expectEqual(subscribed, [MEETING_PATH], "what the page subscribes to on /ws");
    expectEqual(seen.sent[0].type, "auth", "the first message on /ws");
    await step("live-subscribed", { path: MEETING_PATH });
    mark("live_shows_view");

    // A command; the page shows its effect through /ws.
    const clicked = Date.now();
    await page.click("#toggle-attendance");
    await waitForText(page, "alice (live)", "#commands li:first-child .status", "applied");
    await waitForText(page, "alice (live)", "#num-attending", "1");
    timings.toggle_to_live_view_ms = Date.now() - clicked;
    await waitForText(sdk, "alice (SDK)", "#num-attending", "1");
    expectEqual(await page.evaluate(meetingCard), await sdk.evaluate(meetingCard),
      "the meeting card after the command");
    const snapshots = seen.received.filter((m) => m.type === "snapshot" && m.data?.numAttending === 1);
    expectEqual(snapshots.length > 0, true, "a snapshot with the change came over /ws");

    // Only /ws feeds it: the server stops (1001), the SDK's page sees the next change, this
    // page does not, and says it is reconnecting.
    await step("stop-live");
    await waitForText(page, "alice (live)", "#live-state", "closed 1001", { contains: true });
    await waitForText(page, "alice (live)", "#live-state", "reconnecting", { contains: true });
    await sdk.click("#toggle-attendance");
    await waitForText(sdk, "alice (SDK)", "#commands li:first-child .status", "applied");
    await waitForText(sdk, "alice (SDK)", "#num-attending", "2");
    expectEqual(await page.textContent("#num-attending"), "1", "the live page, server stopped");
    expectEqual(seen.sdkRequests, 0, "SDK requests naming the meeting view in live mode");
    mark("live_stopped");

    // It comes back on the same address; the token the page signed in with expires 3 s after
    // the server checks it: the page reconnects, then signs in again and re-subscribes.
    const auths = () => seen.sent.filter((m) => m.type === "auth").length;
    const authsBefore = auths();
    const lastToken = seen.sent.filter((m) => m.type === "auth").at(-1).token;
    await step("restart-live", { tokenExpires: tokenExpiry(lastToken) });
    await waitForText(page, "alice (live)", "#num-attending", "2", { timeout: 2 * TIMEOUT });
    await waitForText(page, "alice (live)", "#live-state", "live-token-expired",
      { contains: true, timeout: 2 * TIMEOUT });
    expectEqual(auths() - authsBefore, 2, "auth messages after the restart: connect, renewal");
    const renewed = seen.sent.filter((m) => m.type === "auth").at(-1).token;
    expectEqual(renewed !== lastToken, true, "the renewal sends a fresh token");
    await step("live-subscribed", { path: MEETING_PATH });
    await page.click("#toggle-attendance");
    await waitForText(page, "alice (live)", "#commands li:first-child .status", "applied");
    await waitForText(page, "alice (live)", "#num-attending", "1");
    expectEqual(seen.sdkRequests, 0, "SDK requests naming the meeting view in live mode");
    mark("live_resubscribed");

    // Back to the SDK, without reloading: the subscription ends, the SDK listens instead.
    await page.click('#via [data-via="sdk"]');
    await step("live-unsubscribed", { path: MEETING_PATH });
    expectEqual(await page.getAttribute("#meeting", "data-source"), "sdk", "the page's source");
    await waitForText(page, "alice (SDK again)", "#meeting-source", "Read through the Firebase SDK");
    await page.click("#toggle-attendance");
    await waitForText(page, "alice (SDK again)", "#commands li:first-child .status", "applied");
    await waitForText(page, "alice (SDK again)", "#num-attending", "2");
    await waitForText(sdk, "alice (SDK)", "#num-attending", "2");
    expectEqual(seen.sdkRequests > 0, true, "SDK requests naming the meeting view once switched");
    expectEqual(await page.evaluate(meetingCard), await sdk.evaluate(meetingCard),
      "the meeting card, switched back to the SDK");
    expectEqual(new URL(page.url()).searchParams.get("via"), null, "?via= after switching back");
    mark("back_to_sdk");
    // And to the live server again, still without reloading.
    await page.click('#via [data-via="live"]');
    await step("live-subscribed", { path: MEETING_PATH });
    await waitForText(page, "alice (live again)", "#live-state", "Live server open", { contains: true });
    expectEqual(await page.getAttribute("#meeting", "data-source"), "live", "the page's source");
    expectEqual(new URL(page.url()).searchParams.get("via"), "live", "?via= after switching");
    expectEqual(await page.evaluate(meetingCard), await sdk.evaluate(meetingCard),
      "the meeting card, switched to the live server again");
    mark("live_again");

    if (screenshots) {
      mkdirSync(screenshots, { recursive: true });
      await page.screenshot({ path: join(screenshots, "web-demo-live.png"), fullPage: true });
    }
    // Chromium logs each refused connection while the server was down: expected here.
    const refused = `WebSocket connection to '${liveUrl}' failed`;
    const unexpected = errors.filter((error) => !error.includes(refused));
    if (unexpected.length) throw new Error(`page errors:\n${unexpected.join("\n")}`);
    mark("done");
    console.log(JSON.stringify(timings));
  } finally {
    stdin.close(); // or node waits for more input
    await browser.close();
  }
}

(liveUrl ? liveMain : main)().catch((error) => {
  console.error(`web demo: ${error.message}`);
  process.exit(1);
});
