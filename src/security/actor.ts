// Who is acting right now: the key, tenant, request id and IP of the request whose work is running (AsyncLocalStorage).
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Actor {
  keyId: string | null;
  tenant: string | null;
  requestId: string | null;
  ip: string | null;
  /** The key's own spending limit (USD), if it has one. */
  budgetUsd: number | null;
}

/** Anything that can say who acts when asked (the HTTP layer stores its request; fields are read when needed). */
export type ActorSource = () => Actor;

const storage = new AsyncLocalStorage<ActorSource>();

/** Runs `fn` (and everything it starts) as the given actor. */
export function runAs<T>(source: ActorSource, fn: () => T): T {
  return storage.run(source, fn);
}

/** The current actor, or undefined outside any request (background work). */
export function currentActor(): Actor | undefined {
  return storage.getStore()?.();
}
