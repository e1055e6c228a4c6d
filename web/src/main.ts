// The meeting-room demo: pick a user, watch your agenda, a meeting and a location board live,
// send commands, watch their outcome. The meeting view comes through the Firebase SDK or, with
// the switch (or ?via=live), through the live server's /ws (?live=ws://HOST:PORT/ws).
import { signOut, type User } from "firebase/auth";
import {
  addDoc,
  type CollectionReference,
  type DocumentReference,
  type DocumentSnapshot,
  type FirestoreError,
  getDoc,
  onSnapshot,
  type Unsubscribe,
} from "firebase/firestore";

import { commandCollection, commandDoc, viewCollection, viewDoc } from "./contract";
import { type Connection, connect, signInAs } from "./emulators";
import { fromLive, type Json, LiveClient, type LiveStatus } from "./live";
import type {
  Agenda,
  CommandDocuments,
  Commands,
  LocationBoard,
  MeetingSession,
} from "./generated/boiler";
import {
  $,
  commandItem,
  markOpen,
  renderAgenda,
  renderAgendaError,
  renderBoard,
  renderBoardChooser,
  renderBoardError,
  renderCommand,
  renderView,
  renderLiveError,
  renderLiveStatus,
  renderVia,
  renderViewError,
  show,
  type Via,
} from "./render";

const USERS = ["alice", "bob", "carol"]; // seeded by shared/meeting_room/seed.py
const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];
const PARAMS = new URLSearchParams(location.search);
const FIRST_MEETING = PARAMS.get("meeting") || "kickoff";
/** The live server's /ws, from ?live= (`./dev up` prints a link with it); null: none known. */
const LIVE_URL = liveAddress(PARAMS.get("live"));

/** Who is signed in, what they watch, and how to stop watching it. */
interface Session {
  uid: string;
  user: User | null;
  live: LiveClient | null; // opened the first time the meeting is read through it
  stops: Unsubscribe[];
  meetingId: string | null;
  stopMeeting: Unsubscribe | null;
  attending: boolean;
  address: string | null;
  agenda: Agenda | null;
  boards: Map<string, LocationBoard>;
  boardId: string | null;
  chosen: boolean; // a location picked by hand wins until another meeting is opened
}

let firebase: Connection;
let session: Session | null = null;
let via: Via = PARAMS.get("via") === "live" && LIVE_URL ? "live" : "sdk";

function start(): void {
  try {
    firebase = connect();
  } catch (error) {
    $("fatal").textContent = (error as Error).message;
    show("fatal", true);
    return;
  }
  for (const uid of USERS) {
    const button = document.createElement("button");
    button.textContent = uid;
    button.dataset.uid = uid;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => switchTo(uid));
    $("users").append(button);
  }
  for (const button of document.querySelectorAll<HTMLButtonElement>("#via [data-via]")) {
    button.addEventListener("click", () => switchVia(button.dataset.via as Via));
  }
  renderVia(via, LIVE_URL, PARAMS.get("live"));
  $("toggle-attendance").addEventListener("click", toggleAttendance);
  for (const button of document.querySelectorAll<HTMLElement>("[data-status]")) {
    button.addEventListener("click", () => requestStatus(button.dataset.status as NewStatus));
  }
  const fromHash = location.hash.slice(1);
  if (USERS.includes(fromHash)) switchTo(fromHash);
}

async function switchTo(uid: string): Promise<void> {
  if (session) {
    session.stops.forEach((stop) => stop());
    session.stopMeeting?.();
    session.live?.stop();
    await signOut(firebase.auth);
  }
  session = {
    uid,
    user: null,
    live: null,
    stops: [],
    meetingId: null,
    stopMeeting: null,
    attending: false,
    address: null,
    agenda: null,
    boards: new Map(),
    boardId: null,
    chosen: false,
  };
  for (const button of $("users").children as HTMLCollectionOf<HTMLElement>) {
    button.setAttribute("aria-pressed", String(button.dataset.uid === uid));
  }
  $("commands").replaceChildren();
  $("peek-result").textContent = "";
  $("signed-in").textContent = `Signing in as ${uid}…`;
  const signingIn = session;
  try {
    signingIn.user = (await signInAs(firebase.auth, firebase.projectId, uid)).user;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    $("signed-in").textContent = `Sign-in failed: ${code || message}`;
    return;
  }
  history.replaceState(null, "", `${searchWith(via)}#${uid}`);
  $("signed-in").textContent = `Signed in as ${uid} (Auth emulator, custom token).`;
  for (const id of ["agenda-card", "meeting", "host", "board-card", "commands-card", "rules"]) {
    show(id, true);
  }
  renderPeekButtons(uid);
  const current = session;
  watchAgenda(current);
  watchBoards(current);
  openMeeting(current, FIRST_MEETING);
}

function watchAgenda(current: Session): void {
  const ref = viewDoc(firebase.db, "Agenda", { uid: current.uid });
  $("agenda-state").textContent = `Listening to ${ref.path}…`;
  const stop = onSnapshot(
    ref,
    (snapshot) => {
      if (session !== current) return;
      current.agenda = snapshot.data() ?? null;
      renderAgenda(current.agenda, ref.path, current.meetingId, (id) => openMeeting(current, id));
    },
    (error) => session === current && renderAgendaError(error, ref.path),
  );
  current.stops.push(stop);
}

/** Show the meeting's live view (users/{uid}/meetingSessions/{meetingId}) and its board. */
function openMeeting(current: Session, meetingId: string): void {
  if (session !== current || current.meetingId === meetingId) return;
  current.meetingId = meetingId;
  current.attending = false;
  current.address = null;
  current.chosen = false;
  markOpen(meetingId);
  $("title").textContent = meetingId;
  $("address").textContent = "";
  watchMeeting(current);
}

/** (Re)subscribe to the open meeting's view the way the switch says: SDK or live server. */
function watchMeeting(current: Session & { meetingId: string | null }): void {
  current.stopMeeting?.();
  current.stopMeeting = null;
  const meetingId = current.meetingId;
  if (meetingId === null) return;
  const ref = viewDoc(firebase.db, "MeetingSession", { uid: current.uid, meetingId });
  const display = (view: MeetingSession | null): void => {
    if (session !== current || current.meetingId !== meetingId) return;
    current.attending = Boolean(view?.attending.some((person) => person.uid === current.uid));
    current.address = view?.address ?? null;
    renderView(view, current, ref.path);
    followMeetingLocation(current);
  };
  $("meeting").dataset.source = via;
  if (via === "sdk" || !LIVE_URL || !current.user) {
    $("view-state").textContent = `Listening to ${ref.path}…`;
    current.stopMeeting = onSnapshot(
      ref,
      (snapshot) => display(snapshot.data() ?? null),
      (error) => session === current && renderViewError(error, ref.path),
    );
    return;
  }
  // Only the live server: no SDK listener on this document while the switch says so.
  const user = current.user;
  current.live ??= new LiveClient(
    LIVE_URL,
    (force) => user.getIdToken(force),
    // After a switch back to the SDK, the client's last word ("idle") is not worth showing.
    (status: LiveStatus) => session === current && via === "live" && renderLiveStatus(status),
  );
  $("view-state").textContent = `Subscribing to ${ref.path} on ${LIVE_URL}…`;
  current.stopMeeting = current.live.watch(
    ref.path,
    (data) => display(fromLive<MeetingSession>(data as Json<MeetingSession> | null)),
    (error) => session === current && renderLiveError(error, ref.path),
  );
}

function switchVia(next: Via): void {
  if (next === via || (next === "live" && !LIVE_URL)) return;
  via = next;
  renderVia(via, LIVE_URL, PARAMS.get("live"));
  history.replaceState(null, "", `${searchWith(via)}${location.hash}`);
  if (session?.meetingId) watchMeeting(session);
}

/** This page's query string with ?via= set (kept on reload and on switching users). */
function searchWith(next: Via): string {
  const params = new URLSearchParams(location.search);
  if (next === "live") params.set("via", "live");
  else params.delete("via");
  const search = params.toString();
  return search ? `?${search}` : location.pathname;
}

/** ?live= if it is a ws:// or wss:// address on this machine: the page sends it ID tokens. */
function liveAddress(value: string | null): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    const local = LOOPBACK.includes(url.hostname) || url.hostname === location.hostname;
    return (url.protocol === "ws:" || url.protocol === "wss:") && local ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Every location board (readable by any signed-in user), live: the chooser lists them, and
 * the board shown is the open meeting's location or the one picked by hand.
 */
function watchBoards(current: Session): void {
  const stop = onSnapshot(
    viewCollection(firebase.db, "LocationBoard", {}),
    (snapshot) => {
      if (session !== current) return;
      current.boards = new Map(snapshot.docs.map((board) => [board.id, board.data()]));
      followMeetingLocation(current);
      showBoard(current);
    },
    (error) => session === current && renderBoardError(error),
  );
  current.stops.push(stop);
}

/** The meeting view carries the address, not the location id: find the board showing it. */
function followMeetingLocation(current: Session): void {
  if (current.chosen || !current.address) return;
  const match = [...current.boards].find(([, board]) => board.address === current.address);
  if (match && match[0] !== current.boardId) {
    current.boardId = match[0];
    showBoard(current);
  }
}

function chooseBoard(current: Session, locationId: string): void {
  current.chosen = true;
  current.boardId = locationId;
  showBoard(current);
}

function showBoard(current: Session): void {
  renderBoardChooser(current.boards, current.boardId, (id) => chooseBoard(current, id));
  const board = current.boardId === null ? undefined : current.boards.get(current.boardId);
  renderBoard(board ?? null, current.boardId);
}

type NewStatus = Commands["StatusRequest"]["newStatus"];

/** The open meeting, for the commands about it (the buttons show once one is open). */
function openSession(): Session & { meetingId: string } {
  if (!session?.meetingId) throw new Error("no meeting is open");
  return session as Session & { meetingId: string };
}

function toggleAttendance(): void {
  const current = openSession();
  const attendance = !current.attending;
  sendCommand(
    attendance ? "I'm attending" : "I'm not attending",
    commandCollection(firebase.db, "AttendanceRequest", { uid: current.uid }),
    // exactly the fields firestore.rules allow: the generated type has no other
    { meetingId: current.meetingId, attendance },
  );
}

function requestStatus(newStatus: NewStatus): void {
  const current = openSession();
  sendCommand(
    `status → ${newStatus}`,
    commandCollection(firebase.db, "StatusRequest", { meetingId: current.meetingId }),
    { newStatus, requestedBy: current.uid },
  );
}

/** Create a command document, then follow it until boiler writes its outcome. */
async function sendCommand<Name extends keyof Commands>(
  label: string,
  commands: CollectionReference<Commands[Name]>,
  data: Commands[Name],
): Promise<void> {
  const current = session;
  const item = commandItem(label);
  $("commands").prepend(item);
  let created: DocumentReference<Commands[Name]>;
  try {
    created = await addDoc(commands, data);
  } catch (error) {
    renderCommand(item, { status: "denied", reason: describe(error as FirestoreError) });
    return;
  }
  const ref = commandDoc<Name>(created);
  let settled = false;
  const follow = (snapshot: DocumentSnapshot<CommandDocuments[Name]>): void => {
    if (settled) return;
    const { status, reason, supersededBy } = snapshot.data() ?? {};
    const progress = status ? { status, reason, supersededBy } : null;
    renderCommand(item, progress ?? { status: "pending", reason: ref.path });
    if (status) stop();
  };
  const unsubscribe = onSnapshot(ref, follow, (error) =>
    renderCommand(item, { status: "denied", reason: describe(error) }),
  );
  // The Firestore emulator's listener has been seen to miss a command's outcome (the HTTP API
  // waits the same way): read the command again each second until it has one. A failed read
  // changes nothing; the listener reports a refusal.
  const poll = setInterval(() => void getDoc(ref).then(follow, () => undefined), 1000);
  function stop(): void {
    settled = true;
    unsubscribe();
    clearInterval(poll);
  }
  current?.stops.push(stop);
}

function renderPeekButtons(uid: string): void {
  const others = USERS.filter((other) => other !== uid);
  $("peek").replaceChildren(
    ...others.map((other) => {
      const button = document.createElement("button");
      button.textContent = `Read ${other}'s view`;
      button.dataset.peek = other;
      button.addEventListener("click", () => peek(other));
      return button;
    }),
  );
}

async function peek(other: string): Promise<void> {
  const meetingId = openSession().meetingId;
  const ref = viewDoc(firebase.db, "MeetingSession", { uid: other, meetingId });
  const result = $("peek-result");
  try {
    await getDoc(ref);
    result.className = "";
    result.textContent = `Read ${ref.path}: allowed (the rules should have denied it!)`;
  } catch (error) {
    result.className = "denied";
    result.textContent = `Read ${ref.path}: ${describe(error as FirestoreError)}`;
  }
}

function describe(error: FirestoreError): string {
  return error.code === "permission-denied"
    ? "the security rules refused it: permission-denied"
    : `${error.code || "error"}: ${error.message}`;
}

start();
