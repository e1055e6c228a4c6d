// The meeting-room demo: pick a user, watch your agenda, a meeting and a location board live,
// send commands, watch their outcome.
import { signOut } from "firebase/auth";
import { addDoc, collection, doc, getDoc, onSnapshot } from "firebase/firestore";

import { connect, signInAs } from "./emulators.js";
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
  renderViewError,
  show,
} from "./render.js";

const USERS = ["alice", "bob", "carol"]; // seeded by shared/meeting_room/seed.py
const FIRST_MEETING = new URLSearchParams(location.search).get("meeting") || "kickoff";

let firebase; // {auth, db, projectId}
// {uid, stops: [unsubscribe...], meetingId, stopMeeting, attending, boards: Map, boardId, chosen}
let session = null;

function start() {
  try {
    firebase = connect();
  } catch (error) {
    $("fatal").textContent = error.message;
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
  $("toggle-attendance").addEventListener("click", toggleAttendance);
  for (const button of document.querySelectorAll("[data-status]")) {
    button.addEventListener("click", () => requestStatus(button.dataset.status));
  }
  const fromHash = location.hash.slice(1);
  if (USERS.includes(fromHash)) switchTo(fromHash);
}

async function switchTo(uid) {
  if (session) {
    session.stops.forEach((stop) => stop());
    session.stopMeeting?.();
    await signOut(firebase.auth);
  }
  session = {
    uid,
    stops: [],
    meetingId: null,
    stopMeeting: null,
    attending: false,
    boards: new Map(),
    boardId: null,
    chosen: false, // a location picked by hand wins until another meeting is opened
  };
  for (const button of $("users").children) {
    button.setAttribute("aria-pressed", String(button.dataset.uid === uid));
  }
  $("commands").replaceChildren();
  $("peek-result").textContent = "";
  $("signed-in").textContent = `Signing in as ${uid}…`;
  try {
    await signInAs(firebase.auth, firebase.projectId, uid);
  } catch (error) {
    $("signed-in").textContent = `Sign-in failed: ${error.code || error.message}`;
    return;
  }
  history.replaceState(null, "", `${location.search}#${uid}`);
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

function watchAgenda(current) {
  const ref = doc(firebase.db, "agendas", current.uid);
  $("agenda-state").textContent = `Listening to ${ref.path}…`;
  const stop = onSnapshot(
    ref,
    (snapshot) => {
      if (session !== current) return;
      current.agenda = snapshot.exists() ? snapshot.data() : null;
      renderAgenda(current.agenda, ref.path, current.meetingId, (id) => openMeeting(current, id));
    },
    (error) => session === current && renderAgendaError(error, ref.path),
  );
  current.stops.push(stop);
}

/** Show the meeting's live view (users/{uid}/meetingSessions/{meetingId}) and its board. */
function openMeeting(current, meetingId) {
  if (session !== current || current.meetingId === meetingId) return;
  current.stopMeeting?.();
  current.meetingId = meetingId;
  current.attending = false;
  current.address = null;
  current.chosen = false;
  markOpen(meetingId);
  $("title").textContent = meetingId;
  $("address").textContent = "";
  const ref = doc(firebase.db, "users", current.uid, "meetingSessions", meetingId);
  $("view-state").textContent = `Listening to ${ref.path}…`;
  current.stopMeeting = onSnapshot(
    ref,
    (snapshot) => {
      if (session !== current || current.meetingId !== meetingId) return;
      const view = snapshot.exists() ? snapshot.data() : null;
      current.attending = Boolean(view?.attending.some((person) => person.uid === current.uid));
      current.address = view?.address ?? null;
      renderView(view, current, ref.path);
      followMeetingLocation(current);
    },
    (error) => session === current && renderViewError(error, ref.path),
  );
}

/**
 * Every location board (readable by any signed-in user), live: the chooser lists them, and
 * the board shown is the open meeting's location or the one picked by hand.
 */
function watchBoards(current) {
  const stop = onSnapshot(
    collection(firebase.db, "locationBoards"),
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
function followMeetingLocation(current) {
  if (current.chosen || !current.address) return;
  const match = [...current.boards].find(([, board]) => board.address === current.address);
  if (match && match[0] !== current.boardId) {
    current.boardId = match[0];
    showBoard(current);
  }
}

function chooseBoard(current, locationId) {
  current.chosen = true;
  current.boardId = locationId;
  showBoard(current);
}

function showBoard(current) {
  renderBoardChooser(current.boards, current.boardId, (id) => chooseBoard(current, id));
  renderBoard(current.boards.get(current.boardId) ?? null, current.boardId);
}

function toggleAttendance() {
  const attendance = !session.attending;
  sendCommand(
    attendance ? "I'm attending" : "I'm not attending",
    collection(firebase.db, "users", session.uid, "attendanceRequests"),
    { meetingId: session.meetingId, attendance }, // exactly the fields firestore.rules allow
  );
}

function requestStatus(newStatus) {
  sendCommand(
    `status → ${newStatus}`,
    collection(firebase.db, "meetings", session.meetingId, "statusRequests"),
    { newStatus, requestedBy: session.uid },
  );
}

/** Create a command document, then follow it until boiler writes its outcome. */
async function sendCommand(label, commands, data) {
  const current = session;
  const item = commandItem(label);
  $("commands").prepend(item);
  let ref;
  try {
    ref = await addDoc(commands, data);
  } catch (error) {
    renderCommand(item, { status: "denied", reason: describe(error) });
    return;
  }
  const stop = onSnapshot(
    ref,
    (snapshot) => {
      const command = snapshot.data() || {};
      renderCommand(item, command.status ? command : { status: "pending", reason: ref.path });
      if (command.status) stop();
    },
    (error) => renderCommand(item, { status: "denied", reason: describe(error) }),
  );
  current.stops.push(stop);
}

function renderPeekButtons(uid) {
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

async function peek(other) {
  const ref = doc(firebase.db, "users", other, "meetingSessions", session.meetingId);
  const result = $("peek-result");
  try {
    await getDoc(ref);
    result.className = "";
    result.textContent = `Read ${ref.path}: allowed (the rules should have denied it!)`;
  } catch (error) {
    result.className = "denied";
    result.textContent = `Read ${ref.path}: ${describe(error)}`;
  }
}

function describe(error) {
  return error.code === "permission-denied"
    ? "the security rules refused it: permission-denied"
    : `${error.code || "error"}: ${error.message}`;
}

start();
