/**
 * When a node tells the members of a big room its counts (`occupancy`). Every push is one
 * frame per local member, so the pace is bounded by the node's members of the room, not only by
 * the room: at most once a second, and for a room with N members on this node at most once every
 * N / {@linkcode FRAMES_PER_SECOND} seconds; and only for news: the online count moved by at
 * least 1 % (or by one in a room with under 100 online), the member count changed, or anything
 * changed and a minute passed. Pure: the caller gives the clock.
 *
 * @module
 */

/** Occupancy frames a node sends for one room per second at most. */
export const FRAMES_PER_SECOND = 2000;
const MIN_INTERVAL_MS = 1000;
const STALE_MS = 60_000;

/** Counts as last told. */
interface Told {
  members: number;
  online: number;
  at: number;
}

/**
 * Decides per room whether counts are worth a push now.
 *
 * @example
 * ```ts
 * const pace = new OccupancyPace();
 * pace.due("lobby", { members: 10, online: 5 }, 3, 0); // true: never told
 * ```
 */
export class OccupancyPace {
  readonly #told = new Map<string, Told>();

  /**
   * Whether `counts` should go to the room's `local` members now; when it says yes the counts
   * are taken as told.
   */
  due(
    room: string,
    counts: { members: number; online: number },
    local: number,
    now: number,
  ): boolean {
    const told = this.#told.get(room);
    if (told) {
      if (told.members === counts.members && told.online === counts.online) return false;
      const interval = Math.max(MIN_INTERVAL_MS, (local * 1000) / FRAMES_PER_SECOND);
      if (now - told.at < interval) return false;
      const moved = Math.abs(counts.online - told.online);
      const significant = moved >= Math.max(1, Math.floor(told.online / 100)) ||
        counts.members !== told.members;
      if (!significant && now - told.at < STALE_MS) return false;
    }
    this.#told.set(room, { ...counts, at: now });
    return true;
  }

  /** Forgets a room (no members here any more). */
  forget(room: string): void {
    this.#told.delete(room);
  }
}
