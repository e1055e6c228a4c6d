// Typed references to the app's views and commands, from the generated contract
// (generated/boiler.ts, written by `boiler generate`; docs/frontend-types.md).
import {
  collection,
  type CollectionReference,
  doc,
  type DocumentData,
  type DocumentReference,
  type Firestore,
  type FirestoreDataConverter,
  type QueryDocumentSnapshot,
  type SnapshotOptions,
} from "firebase/firestore";

import {
  type CommandDocuments,
  type Commands,
  commands,
  fillPath,
  type PathParams,
  type Views,
  views,
} from "./generated/boiler";

type ViewName = keyof Views;
type CommandName = keyof Commands;

/**
 * Documents as the contract types them. A cast at the SDK's edge: boiler writes every view
 * from its model, and tests/test_frontend_types.py holds stored views to the same schema.
 */
function typed<T>(): FirestoreDataConverter<T> {
  return {
    toFirestore: (model) => model as DocumentData,
    fromFirestore: (snapshot: QueryDocumentSnapshot, options?: SnapshotOptions) =>
      snapshot.data(options) as T,
  };
}

/** One view document: `viewDoc(db, "Agenda", { uid })` reads as an `Agenda`. */
export function viewDoc<Name extends ViewName>(
  db: Firestore,
  name: Name,
  params: PathParams<(typeof views)[Name]["path"]>,
): DocumentReference<Views[Name]> {
  return doc(db, fillPath(views[name].path, params)).withConverter(typed<Views[Name]>());
}

/** A view's collection (listing it needs readable_by to allow every document in it). */
export function viewCollection<Name extends ViewName>(
  db: Firestore,
  name: Name,
  params: PathParams<(typeof views)[Name]["collection"]>,
): CollectionReference<Views[Name]> {
  const path = fillPath(views[name].collection, params);
  return collection(db, path).withConverter(typed<Views[Name]>());
}

/** Where to create a command: `addDoc(commandCollection(db, "X", {...}), fields)`. */
export function commandCollection<Name extends CommandName>(
  db: Firestore,
  name: Name,
  params: PathParams<(typeof commands)[Name]["collection"]>,
): CollectionReference<Commands[Name]> {
  const path = fillPath(commands[name].collection, params);
  return collection(db, path).withConverter(typed<Commands[Name]>());
}

/** A created command, read back with the outcome boiler writes on it. */
export function commandDoc<Name extends CommandName>(
  created: DocumentReference<Commands[Name]>,
): DocumentReference<CommandDocuments[Name]> {
  return created.withConverter(typed<CommandDocuments[Name]>());
}
