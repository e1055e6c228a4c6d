// Connects the Firebase JS SDK to the local emulators, and only to them.
import { initializeApp, type FirebaseOptions } from "firebase/app";
import {
  type Auth,
  connectAuthEmulator,
  inMemoryPersistence,
  initializeAuth,
  signInWithCustomToken,
  type UserCredential,
} from "firebase/auth";
import { connectFirestoreEmulator, type Firestore, getFirestore } from "firebase/firestore";

const CUSTOM_TOKEN_AUDIENCE =
  "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";

/** One emulator's address, as the hosting emulator's init.js describes it. */
interface EmulatorAddress {
  host: string;
  port: number;
  hostAndPort: string;
}

declare global {
  interface Window {
    firebaseConfig?: FirebaseOptions & { projectId: string };
    firebaseEmulators?: { auth?: EmulatorAddress; firestore?: EmulatorAddress };
  }
}

export interface Connection {
  auth: Auth;
  db: Firestore;
  projectId: string;
}

/**
 * The app, auth and db, connected to the emulators that served this page.
 *
 * The hosting emulator's `/__/firebase/init.js?useEmulator=true` (loaded by index.html) sets
 * `firebaseConfig` and `firebaseEmulators` ({auth: {host, port, hostAndPort}, firestore: ...})
 * from the ports the running emulators really use, so free ports chosen by tests just work.
 */
export function connect(): Connection {
  const { firebaseConfig: config, firebaseEmulators: emulators } = window;
  if (!config || !emulators?.auth || !emulators?.firestore) {
    throw new Error(
      "This demo runs only against the Firebase emulators: start them with `./dev up` and " +
        "open the page the hosting emulator serves (http://127.0.0.1:5000).",
    );
  }
  const app = initializeApp(config);
  // In memory: every tab is its own user, so two tabs can be two participants side by side.
  const auth = initializeAuth(app, { persistence: inMemoryPersistence });
  connectAuthEmulator(auth, `http://${emulators.auth.hostAndPort}`, { disableWarnings: true });
  const db = getFirestore(app);
  connectFirestoreEmulator(db, emulators.firestore.host, emulators.firestore.port);
  return { auth, db, projectId: config.projectId };
}

/** Demo sign-in: the Auth emulator accepts an unsigned (alg "none") custom token for any uid. */
export function signInAs(auth: Auth, projectId: string, uid: string): Promise<UserCredential> {
  const now = Math.floor(Date.now() / 1000);
  const token = [
    encode({ alg: "none", typ: "JWT" }),
    encode({
      aud: CUSTOM_TOKEN_AUDIENCE,
      iss: `demo@${projectId}.iam.gserviceaccount.com`,
      sub: `demo@${projectId}.iam.gserviceaccount.com`,
      iat: now,
      exp: now + 3600,
      uid,
    }),
    "",
  ].join(".");
  return signInWithCustomToken(auth, token);
}

function encode(value: object): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}
