/**
 * What request handlers are given: the node's shared parts and the session at hand.
 *
 * @module
 */

import type { PasswordHasher } from "../auth/password.ts";
import type { ServerConfig } from "../config/server_config.ts";
import type { Store } from "../store/contract/store.ts";
import type { Hub } from "./hub.ts";
import type { RegistrationThrottle } from "./limits.ts";
import type { LoginGuard } from "./login_guard.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Session } from "./session.ts";

/** The parts of a running node that handlers use. */
export interface Core {
  readonly config: ServerConfig;
  readonly store: Store;
  readonly hub: Hub;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The clock (injected in tests). */
  now(): number;
  /** Names known to exist, so private sends skip a store lookup. */
  readonly knownUsers: Set<string>;
  /** Password hashing with bounded concurrency. */
  readonly hasher: PasswordHasher;
  /** Failed-login limits by account, address and both. */
  readonly loginGuard: LoginGuard;
  /** Registration limits by address and for the node. */
  readonly registrations: RegistrationThrottle;
  /** Room creations per user within the last hour (times, ms). */
  readonly roomCreations: Map<string, number[]>;
  /** This process's index among the node's workers (absent: a single process). */
  readonly worker?: number;
  /** Users whose last connection was cut off as a slow consumer (told at next login). */
  readonly slowConsumers: Map<string, number>;
}

/** One request's context. */
export interface Context {
  readonly core: Core;
  readonly session: Session;
  /** Runs `task` after the reply to this request has been queued. */
  after(task: () => Promise<void> | void): void;
}

/** Server name and version sent in the `hello` reply. */
export const SERVER_NAME = "imchat/0.2.0";
