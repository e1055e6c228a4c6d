// A client of the live server's /ws (docs/live.md, "Protocol"): view documents pushed over one
// WebSocket, signed in with the page's Firebase ID token, kept through token expiry and restarts.
import type { Timestamp } from "firebase/firestore";

/** What the client sends: `auth` first (and again to renew the token), then subscriptions. */
export type ClientMessage =
  | { type: "auth"; token: string }
  | { type: "subscribe"; id: string; path: string }
  | { type: "unsubscribe"; id: string };

/** The view at the subscription's path, at once and on every change; null: no view (yet). */
export interface SnapshotMessage {
  type: "snapshot";
  id: string;
  data: unknown;
}

/** A refusal or an ended subscription; `id` is null when it is about the connection. */
export interface ErrorMessage {
  type: "error";
  id: string | null;
  status: number; // the HTTP API's: 400, 401, 403, 404, 500, 503
  message: string;
  code: string; // docs/errors.md
}

export type ServerMessage = SnapshotMessage | ErrorMessage;

/**
 * A document as the live server sends it: the HTTP API's JSON, where a Firestore Timestamp is
 * an ISO 8601 string. `fromLive` below accepts a view only while this type equals its SDK form.
 */
export type Json<T> = T extends Timestamp
  ? string
  : T extends (infer Item)[]
    ? Json<Item>[]
    : T extends object
      ? { [Key in keyof T]: Json<T[Key]> }
      : T;

/**
 * The SDK's form of a view the server sent: identical for a view without Timestamp fields
 * (MeetingSession). Were one added, this stops compiling: convert it with Timestamp.fromDate.
 */
export function fromLive<View>(
  data: Json<View> | null,
  ..._sameOnTheWire: Json<View> extends View ? [] : [never]
): View | null {
  return data as View | null;
}

/** Where the connection stands, for the page to show. */
export interface LiveStatus {
  state: "connecting" | "open" | "reconnecting" | "idle";
  detail: string;
}

/** A fresh ID token; `force`: ask the Auth service for a new one even if the cached one holds. */
export type TokenSource = (force: boolean) => Promise<string>;

interface Watch {
  path: string;
  serverId: string | null; // the id of its current subscription on the socket, if any
  ended: boolean; // the server refused it (403, 404, ...): not subscribed again
  onData: (data: unknown) => void;
  onError: (error: ErrorMessage) => void;
}

const RENEW_BEFORE_MS = 5 * 60 * 1000; // the Firebase SDK also renews 5 minutes early
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;
const CLOSE_REASONS: Record<number, string> = {
  1001: "the server is going away",
  1006: "the connection was lost",
  1007: "the server could not read a message",
  1008: "the server's policy (no auth in time)",
  1009: "a message was too big",
  1011: "a server error",
};

/**
 * One connection to a live server for one signed-in user, opened while something is watched:
 *
 *     const token = (force: boolean) => user.getIdToken(force);
 *     const live = new LiveClient("ws://127.0.0.1:8080/ws", token, show);
 *     const stop = live.watch("agendas/alice", (data) => ..., (error) => ...);
 *
 * It renews the token before it expires, signs in again and re-subscribes after a
 * `live-token-expired` error, and reconnects with backoff when the socket closes (1001 too).
 */
export class LiveClient {
  private socket: WebSocket | null = null;
  private ready = false; // `auth` was sent on this socket: subscriptions may follow
  private readonly watches = new Set<Watch>();
  private readonly byServerId = new Map<string, Watch>();
  private nextId = 0;
  private failures = 0; // consecutive closes or refused tokens, for the backoff
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private lastClose = ""; // why the last open socket closed, kept while reconnecting fails

  constructor(
    readonly url: string,
    private readonly token: TokenSource,
    private readonly report: (status: LiveStatus) => void,
  ) {}

  /** Watch the view document at `path` until the returned function is called. */
  watch(
    path: string,
    onData: (data: unknown) => void,
    onError: (error: ErrorMessage) => void,
  ): () => void {
    const watch: Watch = { path, serverId: null, ended: false, onData, onError };
    this.watches.add(watch);
    if (this.ready) this.subscribe(watch);
    else if (!this.socket && !this.retryTimer) this.open();
    return () => this.unwatch(watch);
  }

  /** Close the connection for good (sign-out, another user). */
  stop(): void {
    this.stopped = true;
    this.watches.clear();
    this.closeSocket("the page is done with it");
  }

  private unwatch(watch: Watch): void {
    if (!this.watches.delete(watch)) return;
    if (watch.serverId !== null) {
      this.byServerId.delete(watch.serverId);
      this.send({ type: "unsubscribe", id: watch.serverId });
    }
    if (this.watches.size === 0) {
      this.closeSocket("nothing is watched");
      this.report({ state: "idle", detail: "not connected: nothing is watched through it" });
    }
  }

  private open(): void {
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let opened = false;
    if (!this.failures) {
      this.report({ state: "connecting", detail: `connecting to ${this.url}…` });
    }
    socket.addEventListener("open", () => {
      opened = true;
      if (this.socket === socket) void this.signIn(false, "connected");
    });
    socket.addEventListener("message", (event: MessageEvent) => {
      if (this.socket === socket) this.receive(event.data);
    });
    socket.addEventListener("close", (event: CloseEvent) => {
      if (this.socket === socket) this.closed(event, opened);
    });
  }

  /** Send `auth` with a token (`force`: a new one), then subscribe whatever is not subscribed. */
  private async signIn(force: boolean, why: string): Promise<void> {
    const socket = this.socket;
    let token: string;
    try {
      token = await this.token(force);
    } catch (error) {
      this.report({ state: "reconnecting", detail: `no ID token: ${(error as Error).message}` });
      this.closeSocket("no ID token");
      this.retry();
      return;
    }
    if (this.socket !== socket || socket?.readyState !== WebSocket.OPEN) return;
    this.send({ type: "auth", token });
    this.ready = true;
    this.renewBefore(expiry(token));
    for (const watch of this.watches) {
      if (watch.serverId === null && !watch.ended) this.subscribe(watch);
    }
    this.report({ state: "open", detail: `${why}: ${this.url}` });
  }

  private subscribe(watch: Watch): void {
    const id = `s${++this.nextId}`;
    watch.serverId = id;
    this.byServerId.set(id, watch);
    this.send({ type: "subscribe", id, path: watch.path });
  }

  private receive(text: unknown): void {
    const message = parse(text);
    if (!message) {
      this.report({ state: "open", detail: `ignored a message that is not the protocol's` });
      return;
    }
    if (message.type === "snapshot") {
      this.failures = 0;
      this.lastClose = "";
      this.byServerId.get(message.id)?.onData(message.data);
      return;
    }
    const watch = message.id === null ? undefined : this.byServerId.get(message.id);
    if (watch && (message.code === "live-token-expired" || message.code === "unauthenticated")) {
      // The server ended every subscription: sign in with a fresh token and subscribe again.
      // Errors for the other ended ones name ids forgotten here, so they renew nothing twice.
      this.ready = false;
      this.forgetSubscriptions();
      void this.signIn(true, `token expired (${message.code}); signed in again and re-subscribed`);
      return;
    }
    if (message.id === null) {
      // A refused token (or another user's): try a new one after a pause.
      const detail = `${message.status} ${message.code}: ${message.message}`;
      this.report({ state: "reconnecting", detail });
      this.ready = false;
      this.forgetSubscriptions();
      this.closeSocket("the token was refused");
      this.retry();
      return;
    }
    if (!watch) return; // a subscription already ended or replaced
    this.byServerId.delete(message.id);
    watch.serverId = null;
    watch.ended = true;
    watch.onError(message);
  }

  private closed(event: CloseEvent, opened: boolean): void {
    this.socket = null;
    this.ready = false;
    this.forgetSubscriptions();
    this.clearRenewal();
    if (this.stopped || this.watches.size === 0) return;
    const why = `closed ${event.code} (${event.reason || CLOSE_REASONS[event.code] || "closed"})`;
    if (opened || !this.lastClose) this.lastClose = why;
    // A failed attempt to reconnect (1006) says less than why the connection ended.
    this.retry(opened ? why : `${this.lastClose}; attempt ${this.failures} failed`);
  }

  /** Open again after a pause that doubles with each failure in a row (with jitter). */
  private retry(why?: string): void {
    if (this.stopped || this.retryTimer) return;
    const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
    const delay = backoff * (0.75 + Math.random() / 2);
    this.failures += 1;
    if (why) {
      const detail = `${why}: reconnecting in ${(delay / 1000).toFixed(1)} s`;
      this.report({ state: "reconnecting", detail });
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.watches.size) this.open();
    }, delay);
  }

  /** Send a fresh token before this one expires, so the subscriptions carry on. */
  private renewBefore(expiresAt: number | null): void {
    this.clearRenewal();
    if (expiresAt === null) return;
    const left = expiresAt - Date.now();
    const delay = Math.max(1000, left - Math.min(RENEW_BEFORE_MS, left / 5));
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      if (this.ready) void this.signIn(true, "token renewed before it expired");
    }, delay);
  }

  private clearRenewal(): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
  }

  private forgetSubscriptions(): void {
    this.byServerId.clear();
    for (const watch of this.watches) watch.serverId = null;
  }

  private closeSocket(reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    this.forgetSubscriptions();
    this.clearRenewal();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, reason);
  }

  private send(message: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/** A server message, or null for anything else. */
export function parse(text: unknown): ServerMessage | null {
  if (typeof text !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const message = value as Record<string, unknown>;
  if (message.type === "snapshot" && typeof message.id === "string" && "data" in message) {
    return { type: "snapshot", id: message.id, data: message.data };
  }
  if (message.type === "error" && typeof message.status === "number") {
    return {
      type: "error",
      id: typeof message.id === "string" ? message.id : null,
      status: message.status,
      message: String(message.message ?? ""),
      code: String(message.code ?? "error"),
    };
  }
  return null;
}

/** The token's `exp` in ms since the epoch, or null if it cannot be read. */
function expiry(token: string): number | null {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}
