// DOM updates only: text goes through textContent, never innerHTML.

export const $ = (id) => document.getElementById(id);

export function show(id, visible) {
  $(id).hidden = !visible;
}

/** Render the MeetingSession view (README, "The meeting-room example") or its absence. */
export function renderView(view, session, path) {
  const toggle = $("toggle-attendance");
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

function attendee(person, uid) {
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

export function renderViewError(error, path) {
  $("view-state").textContent =
    error.code === "permission-denied"
      ? `Reading ${path} was denied by the security rules.`
      : `Listening to ${path} failed: ${error.code || error.message}`;
  $("toggle-attendance").disabled = true;
}

export function commandItem(label) {
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
export function renderCommand(item, { status, reason, supersededBy }) {
  const [, label, detail] = item.children;
  label.className = `status ${status}`;
  label.textContent = status;
  label.title = supersededBy ? `superseded by ${supersededBy}` : "";
  detail.textContent = reason ? ` (${reason})` : "";
}
