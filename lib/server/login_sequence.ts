/**
 * Logging a session in: make it live on the node, work out where each of its streams starts
 * (the client's positions, or the user's acknowledged ones), build the `ok` reply, and after it
 * write the login sequence of docs/PROTOCOL.md §8.5: `rooms` events, `roster` events, the
 * backlog merged with what arrived live meanwhile, and the `backlog` event.
 *
 * @module
 */

import type {
  ChatMessage,
  InboxState,
  InviteInfo,
  LoginResult,
  Positions,
  RoomState,
  StreamName,
  StreamState,
  UserInfo,
} from "../protocol/messages.ts";
import { roomStream, userStream } from "../protocol/messages.ts";
import type { StreamHead } from "../store/contract/streams.ts";
import type { Context } from "./context.ts";
import { chunks, CONTACTS_TRACKED, sendRoster } from "./hub.ts";

/** What the caller has checked: who logs in, and with which token. */
export interface Entry {
  user: UserInfo;
  token: string;
  tokenHash: string;
  tokenExpiresAt: number;
  positions?: Positions;
}

interface Plan {
  stream: StreamName;
  start: number;
  /** Position up to which messages are left out (backlog limit); equals `start` when none. */
  from: number;
  /** The first position read (`head + 1` when none): below it, retention trimmed. */
  first: number;
  messages: ChatMessage[];
}

/** Makes the session live, replies, then writes the login sequence. */
export async function enter(ctx: Context, entry: Entry): Promise<LoginResult> {
  const { core, session } = ctx;
  session.throwIfClosed();
  const { store, hub, config } = core;
  const name = entry.user.name;
  const [memberships, contacts, cursors] = await Promise.all([
    store.rooms.roomsOf(name),
    store.streams.contacts(name, CONTACTS_TRACKED),
    store.streams.cursors(name),
  ]);
  session.throwIfClosed();
  session.tokenHash = entry.tokenHash;
  await hub.attach(session, entry.user, memberships, contacts);
  try {
    // Private messages this user sent whose second write was interrupted are completed now.
    await store.streams.complete(name).catch((error) =>
      core.log.warn("complete_failed", { user: name, error: String(error) })
    );
    const rooms = [...(hub.roomsOf(name)?.keys() ?? [])];
    const inbox = userStream(name);
    const streams = [inbox, ...rooms.map(roomStream)];
    const [heads, { summaries, online }, invitations, counts, self] = await Promise.all([
      store.streams.heads(streams),
      hub.roomCounts(rooms),
      store.rooms.invitesOf(name, 50),
      store.presence.counts(),
      store.presence.status([name]),
    ]);
    const away = self.get(name)?.away;
    if (away !== undefined) hub.updateUser(name, { away });
    const state = (stream: StreamName): StreamState => {
      const head: StreamHead = heads.get(stream) ?? { seq: 0, epoch: "" };
      const acked = Math.min(cursors.get(stream) ?? 0, head.seq);
      const given = entry.positions?.[stream];
      const fits = given !== undefined && given.seq <= head.seq &&
        (given.epoch === undefined || given.epoch === head.epoch);
      const out: StreamState = {
        stream,
        epoch: head.epoch,
        head: head.seq,
        acked,
        start: fits ? given.seq : acked,
        unread: Math.max(0, head.seq - acked),
      };
      if (given !== undefined && !fits) out.reset = true;
      return out;
    };
    // The private stream: everything after the start (and after the acknowledged position,
    // for the unread counts per peer).
    const inboxState = state(inbox);
    const low = Math.min(inboxState.start, inboxState.acked);
    const inboxRead = await store.streams.read(inbox, low, config.retention.inboxMax);
    const peers: Record<string, number> = {};
    for (const m of inboxRead.messages) {
      if (m.seq > inboxState.acked && m.from !== name) peers[m.from] = (peers[m.from] ?? 0) + 1;
    }
    const inboxMessages = inboxRead.messages.filter((m) => m.seq > inboxState.start);
    const plans: Plan[] = [{
      stream: inbox,
      start: inboxState.start,
      from: inboxState.start,
      first: inboxMessages[0]?.seq ?? inboxRead.head.seq + 1,
      messages: inboxMessages,
    }];
    const roomStates: RoomState[] = [];
    for (const room of rooms) {
      const summary = summaries.get(room);
      if (!summary) continue;
      const stream = state(roomStream(room));
      const limit = config.backlogLimit;
      const from = Math.max(stream.start, stream.head - limit);
      const range = limit > 0 && from < stream.head
        ? await store.streams.read(stream.stream, from, limit)
        : null;
      plans.push({
        stream: stream.stream,
        start: stream.start,
        from,
        first: range?.first ?? stream.head + 1,
        messages: range?.messages ?? [],
      });
      roomStates.push({
        ...summary,
        online: online.get(room) ?? 0,
        role: hub.roomsOf(name)?.get(room) ?? "member",
        stream,
        skipped: from - stream.start,
      });
    }
    const inviters = await store.accounts.nicknames(invitations.map((i) => i.by));
    const invites: InviteInfo[] = invitations.map((i) => ({
      room: i.room,
      by: { name: i.by, nickname: inviters.get(i.by) ?? i.by },
    }));
    const inboxResult: InboxState = { ...inboxState, peers };
    const result: LoginResult = {
      user: { ...entry.user },
      token: entry.token,
      tokenExpiresAt: entry.tokenExpiresAt,
      inbox: inboxResult,
      rooms: roomStates.length,
      invites,
      onlineTotal: counts.users,
    };
    if (away !== undefined) result.away = away;
    if (core.slowConsumers.delete(name)) {
      result.notice = "Your previous connection was closed because it did not read messages " +
        "fast enough (slow consumer); what it missed is delivered now";
    }
    ctx.after(() => writeSequence(ctx, roomStates, plans));
    core.log.info("login", { user: name, remote: session.remote, rooms: rooms.length });
    return result;
  } catch (error) {
    // Half a login is no login: undo it, so the client can simply try again.
    await hub.detach(session, "drop");
    if (session.phase === "user") session.phase = "guest";
    session.tokenHash = null;
    throw error;
  }
}

/** Steps 1–4 of the login sequence; on failure the streams are still released. */
async function writeSequence(ctx: Context, rooms: RoomState[], plans: Plan[]): Promise<void> {
  const { core, session } = ctx;
  const name = session.user!.name;
  for (const chunk of chunks(rooms, core.config.maxFrame)) {
    session.send({ type: "rooms", rooms: chunk.items, done: chunk.last });
  }
  let failure: unknown = null;
  try {
    sendRoster(session, await core.hub.roster(name), core.config.maxFrame);
  } catch (error) {
    failure = error;
  }
  let written = 0;
  let skipped = 0;
  for (const plan of plans) {
    if (session.closed || session.user?.name !== name) return;
    session.positions.start(plan.stream, plan.start);
    if (plan.from > plan.start) {
      session.positions.skip(plan.stream, plan.from);
      skipped += plan.from - plan.start;
    }
    if (plan.first > plan.from + 1 && plan.from < plan.first - 1) {
      // Retention trimmed messages the session has not had: say so, then go on after them.
      session.send({ type: "gap", stream: plan.stream, after: plan.from, next: plan.first });
      session.positions.skip(plan.stream, plan.first - 1);
    }
    written += await core.hub.fill(session, plan.stream, plan.messages, true);
  }
  session.send({ type: "backlog", messages: written, skipped });
  // The roster could not be read: the client hears it (as an error without `re`).
  if (failure !== null) throw failure;
}
