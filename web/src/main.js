// The meeting-room demo: pick a user, watch your view live, send commands, watch their outcome.
import { signOut } from "firebase/auth";
import { addDoc, collection, doc, getDoc, onSnapshot } from "firebase/firestore";

import { connect, signInAs } from "./emulators.js";
import { $, commandItem, renderCommand, renderView, renderViewError, show } from "./render.js";

const USERS = ["alice", "bob", "carol"]; // seeded by shared/meeting_room/seed.py
const MEETING_ID = new URLSearchParams(location.search).get("meeting") || "kickoff";

let firebase; // {auth, db, projectId}
let session = null; // {uid, stops: [unsubscribe...], attending}

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
    await signOut(firebase.auth);
  }
  session = { uid, stops: [], attending: false };
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
  history.replaceState(null, "", `#${uid}`);
  $("signed-in").textContent = `Signed in as ${uid} (Auth emulator, custom token).`;
  for (const id of ["meeting", "host", "commands-card", "rules"]) show(id, true);
  renderPeekButtons(uid);
  watchView(session);
}

function watchView(current) {
  const ref = doc(firebase.db, "users", current.uid, "meetingSessions", MEETING_ID);
  $("view-state").textContent = `Listening to ${ref.path}…`;
  const stop = onSnapshot(
    ref,
    (snapshot) => {
      if (session !== current) return;
      const view = snapshot.exists() ? snapshot.data() : null;
      current.attending = Boolean(view?.attending.some((person) => person.uid === current.uid));
      renderView(view, current, ref.path);
    },
    (error) => session === current && renderViewError(error, ref.path),
  );
  current.stops.push(stop);
}

function toggleAttendance() {
  const attendance = !session.attending;
  sendCommand(
    attendance ? "I'm attending" : "I'm not attending",
    collection(firebase.db, "users", session.uid, "attendanceRequests"),
    { meetingId: MEETING_ID, attendance }, // exactly the fields firestore.rules allow
  );
}

function requestStatus(newStatus) {
  sendCommand(
    `status → ${newStatus}`,
    collection(firebase.db, "meetings", MEETING_ID, "statusRequests"),
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
  const ref = doc(firebase.db, "users", other, "meetingSessions", MEETING_ID);
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
