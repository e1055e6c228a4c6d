// DOM updates only: text goes through textContent, never innerHTML.
import type { FirestoreError, Timestamp } from "firebase/firestore";

import type {
  Agenda,
  AgendaEntry,
  Attendee,
  CommandStatus,
  LocationBoard,
  MeetingSession,
} from "./generated/boiler";
import type { ErrorMessage, LiveStatus } from "./live";

/** The element with this id (the page has every id this demo uses). */
export function $<Found extends HTMLElement = HTMLElement>(id: string): Found {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as Found;
}

export function show(id: string, visible: boolean): void {
  $(id).hidden = !visible;
}

/** What the meeting card needs of the signed-in session. */
export interface Viewer {
  uid: string;
  attending: boolean;
}

/** Render the MeetingSession view (README, "The meeting-room example") or its absence. */
export function renderView(view: MeetingSession | null, session: Viewer, path: string): void {
  const toggle = $<HTMLButtonElement>("toggle-attendance");
  if (!view) {
    $("view-state").textContent = `No view at ${path} (yet): the triggers build it after the seed.`;
    toggle.disabled = true;
    return;
  }
  $("view-state").textContent = "";
  $("title").textContent = view.title;
  $("address").textContent = view.address ?? "no location";
  const badge = $("in-session");
  badge.textContent = view.inSession ? "in session" : "not in session";
  badge.classList.toggle("live", view.inSession);
  $("num-attending").textContent = String(view.numAttending);
  $("num-hearing-aid").textContent = String(view.numHearingAidRequested);
  $("attending").replaceChildren(...view.attending.map((person) => attendee(person, session.uid)));
  toggle.disabled = false;
  toggle.textContent = session.attending ? "I'm not attending" : "I'm attending";
  toggle.classList.toggle("leave", session.attending);
}

function attendee(person: Attendee, uid: string): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.uid = person.uid;
  item.classList.toggle("me", person.uid === uid);
  const who = document.createElement("span");
  who.textContent = person.name;
  const org = document.createElement("span");
  org.className = "org";
  org.textContent = person.organization;
  who.append(org);
  item.append(who);
  if (person.hearingAidRequested) {
    const flag = document.createElement("span");
    flag.className = "flag";
    flag.textContent = "hearing aid";
    item.append(flag);
  }
  return item;
}

export function renderViewError(error: FirestoreError, path: string): void {
  $("view-state").textContent =
    error.code === "permission-denied"
      ? `Reading ${path} was denied by the security rules.`
      : `Listening to ${path} failed: ${error.code || error.message}`;
  $<HTMLButtonElement>("toggle-attendance").disabled = true;
}

export function commandItem(label: string): HTMLLIElement {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = `${label}: `;
  const status = document.createElement("span");
  status.className = "status pending";
  status.textContent = "sending…";
  const reason = document.createElement("span");
  reason.className = "reason muted";
  item.append(name, status, reason);
  return item;
}

/**
 * status: pending | applied | rejected | superseded (boiler's outcome; superseded: a request
 * made later for the same target was applied first, so this one changed nothing) | denied
 * (the rules refused the write).
 */
export interface CommandProgress {
  status: CommandStatus | "pending" | "denied";
  reason?: string | null;
  supersededBy?: string;
}

export function renderCommand(
  item: HTMLLIElement,
  { status, reason, supersededBy }: CommandProgress,
): void {
  const [, label, detail] = item.children as HTMLCollectionOf<HTMLElement>;
  if (!label || !detail) throw new Error("a command item has a label and a detail");
  label.className = `status ${status}`;
  label.textContent = status;
  label.title = supersededBy ? `superseded by ${supersededBy}` : "";
  detail.textContent = reason ? ` (${reason})` : "";
}

const STATUS_LABELS: Record<AgendaEntry["status"], string> = {
  "not-started": "not started",
  "in-session": "in session",
  closed: "closed",
};
const WHEN = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});

/** A view's `startsAt` (a Firestore Timestamp, or null when the meeting is not scheduled). */
export function when(startsAt: Timestamp | null): string {
  return startsAt ? WHEN.format(startsAt.toDate()) : "unscheduled";
}

/** Render the Agenda view (`agendas/{uid}`): one entry per meeting, each opening its view. */
export function renderAgenda(
  agenda: Agenda | null,
  path: string,
  openId: string | null,
  onOpen: (meetingId: string) => void,
): void {
  if (!agenda) {
    $("agenda-state").textContent = `No agenda at ${path} (yet): the triggers build it after the seed.`;
    $("num-upcoming").textContent = "–";
    $("agenda").replaceChildren();
    return;
  }
  $("agenda-state").textContent = agenda.meetings.length
    ? ""
    : "Nothing coming up: no meeting lists you, or they are all closed.";
  $("num-upcoming").textContent = String(agenda.numUpcoming);
  $("agenda").replaceChildren(...agenda.meetings.map((entry) => agendaEntry(entry, openId, onOpen)));
}

function agendaEntry(
  entry: AgendaEntry,
  openId: string | null,
  onOpen: (meetingId: string) => void,
): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.meetingId = entry.meetingId;
  const button = document.createElement("button");
  button.className = "entry";
  button.setAttribute("aria-current", String(entry.meetingId === openId));
  button.addEventListener("click", () => onOpen(entry.meetingId));
  const title = span("entry-title", entry.title);
  const status = span(`entry-status ${entry.status}`, STATUS_LABELS[entry.status] ?? entry.status);
  const time = span("entry-when", when(entry.startsAt));
  const where = span("entry-where", entry.address ?? "no location");
  button.append(title, status, time, where);
  item.append(button);
  return item;
}

/** Mark the open meeting's agenda entry (without waiting for the next snapshot). */
export function markOpen(openId: string): void {
  for (const item of $("agenda").children as HTMLCollectionOf<HTMLElement>) {
    item.firstElementChild?.setAttribute("aria-current", String(item.dataset.meetingId === openId));
  }
}

export function renderAgendaError(error: FirestoreError, path: string): void {
  $("agenda-state").textContent =
    error.code === "permission-denied"
      ? `Reading ${path} was denied by the security rules.`
      : `Listening to ${path} failed: ${error.code || error.message}`;
}

/** The chooser: one button per location board the signed-in user can read. */
export function renderBoardChooser(
  boards: Map<string, LocationBoard>,
  chosenId: string | null,
  onChoose: (locationId: string) => void,
): void {
  $("boards").replaceChildren(
    ...[...boards.keys()].sort().map((locationId) => {
      const button = document.createElement("button");
      button.textContent = locationId;
      button.title = boards.get(locationId)?.address ?? "";
      button.dataset.locationId = locationId;
      button.setAttribute("aria-pressed", String(locationId === chosenId));
      button.addEventListener("click", () => onChoose(locationId));
      return button;
    }),
  );
}

/** Render the LocationBoard view (`locationBoards/{locationId}`) or its absence. */
export function renderBoard(board: LocationBoard | null, locationId: string | null): void {
  $("board-state").textContent = board
    ? ""
    : locationId
      ? `No board at locationBoards/${locationId}: the location does not exist (any more).`
      : "Open a meeting, or pick a location.";
  $("board-address").textContent = board ? board.address : "";
  $("meetings-total").textContent = board ? String(board.meetingsTotal) : "–";
  $("meetings-in-session").textContent = board ? String(board.meetingsInSession) : "–";
  $("attending-in-session").textContent = board ? String(board.attendingInSession) : "–";
  $("board-next").replaceChildren(
    ...(board?.next ?? []).map((entry) => {
      const item = document.createElement("li");
      item.dataset.meetingId = entry.meetingId;
      item.append(span("entry-title", entry.title), span("entry-when", when(entry.startsAt)));
      return item;
    }),
  );
  if (board && !board.next.length) $("board-state").textContent = "No meeting waiting to start here.";
}

export function renderBoardError(error: FirestoreError): void {
  $("board-state").textContent =
    error.code === "permission-denied"
      ? "Reading locationBoards was denied by the security rules."
      : `Listening to locationBoards failed: ${error.code || error.message}`;
}

function span(className: string, text: string): HTMLSpanElement {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

/** Where the meeting view comes from: the Firebase SDK's listener or the live server's /ws. */
export type Via = "sdk" | "live";

/** The switch: which source is on, and why the live server cannot be chosen, if it cannot. */
export function renderVia(via: Via, liveUrl: string | null, liveParam: string | null): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>("#via [data-via]")) {
    button.setAttribute("aria-pressed", String(button.dataset.via === via));
    button.disabled = button.dataset.via === "live" && !liveUrl;
  }
  $("via-hint").textContent = liveUrl
    ? via === "live"
      ? `over ${liveUrl}`
      : ""
    : liveParam
      ? `?live=${liveParam} is not a ws:// or wss:// address on this machine ` +
        "(the page sends it your ID token)."
      : "No live server known: open the link `./dev up` prints (…/?live=ws://HOST:PORT/ws).";
  $("meeting-source").textContent =
    via === "live" ? `Read through the live server (${liveUrl})` : "Read through the Firebase SDK";
  $("live-state").textContent = "";
  $("live-state").dataset.state = "";
}

/** The live connection's state, under the meeting. */
export function renderLiveStatus({ state, detail }: LiveStatus): void {
  const line = $("live-state");
  line.dataset.state = state;
  line.textContent = `Live server ${state}: ${detail}`;
}

/** The live server refused the subscription or ended it (403, 404, ...). */
export function renderLiveError(error: ErrorMessage, path: string): void {
  $("view-state").textContent =
    `The live server refused ${path}: ${error.status} ${error.code}: ${error.message}`;
  $<HTMLButtonElement>("toggle-attendance").disabled = true;
}
