/**
 * An Event Hubs endpoint over the durable event log: AMQP 1.0 as the service and Microsoft's
 * Event Hubs emulator speak it, so @azure/event-hubs, the Functions host's Event Hubs extension
 * and any other Event Hubs client read and write the log unchanged. Plain AMQP on 5672, as the
 * emulator: a connection string with `UseDevelopmentEmulator=true` reaches it.
 *
 * - SASL ANONYMOUS or MSSBCBS, then claims-based security: a put-token on `$cbs` with a SAS token signed by
 *   one of the hub's policies (Send, Listen, Manage) authorises links under the token's resource.
 * - `$management`: READ of the hub (`com.microsoft:eventhub`) and of a partition.
 * - Senders to the hub (a partition key in `x-opt-partition-key` or round robin), or to
 *   `<hub>/Partitions/<id>`; single messages and batches (message format 0x80013700). A message is
 *   accepted only once the log has written it.
 * - Receivers on `<hub>/ConsumerGroups/<group>/Partitions/<id>` from an offset, a sequence number
 *   or an enqueued time (the selector filter), with link credit as flow control, and owner level
 *   (`com.microsoft:epoch`): a higher one takes the partition and the lower ones are detached with
 *   `amqp:link:stolen`, as the service does (an equal one takes over as well: the newest claim wins).
 * - Each event carries x-opt-sequence-number, x-opt-offset, x-opt-enqueued-time, its partition key
 *   and what IoT Hub routing stamps (iothub-connection-device-id, iothub-enqueuedtime…), and, for
 *   a reader that asks (com.microsoft:enable-receiver-runtime-metric), where the partition ends.
 */
import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender, type Session, type TerminusOptions } from 'rhea';
import { verifySigned } from '../sas.ts';
import type { EventLog, EventRecord, PropertyValue } from '../event-log/event-log.ts';

/** The key Microsoft's emulator documents; local only. */
export const DEVELOPMENT_KEY = 'SAS_KEY_VALUE';
export const DEVELOPMENT_POLICY = 'RootManageSharedAccessKey';

type Right = 'Send' | 'Listen' | 'Manage';

export interface EventHubsOptions {
  eventLog: EventLog;
  /** The event hub's name (the entity path). */
  hubName: string;
  /** Consumer groups besides `$Default`. */
  consumerGroups?: string[];
  /** Shared access policies; default: RootManageSharedAccessKey with the emulator's key. */
  policies?: Record<string, { key: string; rights: Right[] }>;
  host?: string;
  /** Default 5672, the emulator's; 0 picks a free port. */
  port?: number;
  /** Host name in connection strings (default localhost). */
  hostName?: string;
  now?: () => number;
  log?: (line: string) => void;
}

export interface EventHubsStats {
  connections: number;
  eventsReceived: number;
  eventsDelivered: number;
  refusedTokens: number;
  refusedLinks: number;
  stolenLinks: number;
}

export interface EventHubsEndpoint {
  port: number;
  hubName: string;
  /** A connection string for a policy (default the emulator's root policy), with UseDevelopmentEmulator=true. */
  connectionString(policy?: string, withEntityPath?: boolean): string;
  stats: EventHubsStats;
  close(): Promise<void>;
}

const BATCH_FORMAT = 0x80013700;
const MAX_MESSAGE_BYTES = 1024 * 1024;
const SELECTOR = 'apache.org:selector-filter:string';
const EPOCH = 'com.microsoft:epoch';
/** Properties of the AMQP properties section, by the names IoT Hub routing records them under. */
const PROPERTY_FIELDS: Record<string, keyof Message> = {
  'message-id': 'message_id',
  'correlation-id': 'correlation_id',
  'content-type': 'content_type',
  'content-encoding': 'content_encoding',
};
/** Annotations the service sets itself; a sender's are not kept. */
const SERVICE_ANNOTATIONS = new Set(['x-opt-sequence-number', 'x-opt-offset', 'x-opt-enqueued-time', 'x-opt-partition-key']);
/** Events sent per read of the log, at most (bounded by the link's credit too). */
const READ_CHUNK = 256;

class AmqpError extends Error {
  constructor(
    readonly condition: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a connection's put-tokens have authorised: resource paths (lower case, no host) and rights, until expiry. */
interface Claim {
  path: string;
  rights: readonly Right[];
  expiresAt: number;
}

interface ReceiverLink {
  sender: Sender;
  group: string;
  partitionId: string;
  epoch: number | undefined;
  next: number;
  waiting: boolean;
  closed: boolean;
  /** The reader asked for the partition's runtime information with each event (trackLastEnqueuedEventProperties). */
  runtimeMetric: boolean;
}

/** `sb://host:port/a/b` or `amqps://host/a/b` or `a/b` → `a/b` (lower case). */
function pathOf(address: string): string {
  const m = /^[a-z]+:\/\/[^/]*\/?(.*)$/i.exec(address);
  return (m ? m[1]! : address).replace(/^\/+|\/+$/g, '').toLowerCase();
}

function covers(scope: string, path: string): boolean {
  return scope === '' || path === scope || path.startsWith(`${scope}/`);
}

/** A selector filter such as `amqp.annotation.x-opt-offset >= '42'` or `amqp.annotation.x-opt-sequence-number > 7`. */
function parseSelector(text: string): { field: 'offset' | 'sequence' | 'time'; inclusive: boolean; value: string } {
  // The Node client quotes the value ('42'); the .NET client does not (42).
  const m = /^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*(?:'([^']*)'|([-@\w.]+))\s*$/i.exec(text);
  if (!m) throw new AmqpError('amqp:invalid-field', `unsupported filter '${text}'`);
  const field = m[1]!.toLowerCase() === 'offset' ? 'offset' : m[1]!.toLowerCase() === 'sequence-number' ? 'sequence' : 'time';
  return { field, inclusive: m[2] === '>=', value: m[3] ?? m[4]! };
}

export async function startEventHubs(options: EventHubsOptions): Promise<EventHubsEndpoint> {
  const { eventLog, hubName } = options;
  const hub = hubName.toLowerCase();
  const now = options.now ?? Date.now;
  const say = options.log ?? (() => {});
  const groups = new Map<string, string>([['$default', '$Default']]);
  for (const g of options.consumerGroups ?? []) groups.set(g.toLowerCase(), g);
  const policies = new Map(Object.entries(options.policies ?? { [DEVELOPMENT_POLICY]: { key: DEVELOPMENT_KEY, rights: ['Manage', 'Send', 'Listen'] as Right[] } }));
  const stats: EventHubsStats = { connections: 0, eventsReceived: 0, eventsDelivered: 0, refusedTokens: 0, refusedLinks: 0, stolenLinks: 0 };
  const claims = new WeakMap<Connection, Claim[]>();
  /** Receivers per consumer group and partition, for owner levels. */
  const receivers = new Map<string, Set<ReceiverLink>>();
  const byLink = new WeakMap<Sender, ReceiverLink>();
  let roundRobin = 0;
  /** Per session, the links out of `$cbs` and `$management` that responses go back on. */
  const replyLinks = new WeakMap<Session, Sender[]>();
  const connections = new Set<Connection>();

  /** Checks a SAS token; returns the claim it makes. */
  function checkToken(token: unknown): Claim {
    if (typeof token !== 'string') throw new AmqpError('amqp:unauthorized-access', 'the token must be a SharedAccessSignature string');
    const skn = /[?&\s]skn=([^&]+)/.exec(token)?.[1];
    const policy = skn === undefined ? undefined : policies.get(decodeURIComponent(skn));
    if (!policy) throw new AmqpError('amqp:unauthorized-access', `unknown shared access policy '${skn ?? ''}'`);
    let scope = '';
    const check = verifySigned(token, (sr) => ((scope = pathOf(sr)), true), [Buffer.from(policy.key, 'utf8')], Math.floor(now() / 1000));
    if (!check.ok) throw new AmqpError('amqp:unauthorized-access', `the SAS token is ${check.reason === 'expired' ? 'expired' : check.reason === 'badSignature' ? 'not signed by the policy\'s key' : 'malformed'}`);
    return { path: scope, rights: policy.rights, expiresAt: check.expiresAtSeconds * 1000 };
  }

  function authorise(connection: Connection, path: string, right: Right): void {
    const t = now();
    const ok = (claims.get(connection) ?? []).some((c) => c.expiresAt > t && covers(c.path, path) && (c.rights.includes(right) || c.rights.includes('Manage')));
    if (!ok) throw new AmqpError('amqp:unauthorized-access', `no valid token with '${right}' for '${path}': put one on $cbs first`);
  }

  /** `<hub>`, `<hub>/Partitions/<id>`, `<hub>/ConsumerGroups/<g>/Partitions/<id>`. */
  function entity(address: string): { kind: 'hub' } | { kind: 'partition'; partitionId: string } | { kind: 'consumer'; group: string; partitionId: string } {
    const parts = pathOf(address).split('/');
    // Worded as the service words it: clients recognise a missing entity by this sentence.
    const missing = (what: string, hint: string) => new AmqpError('amqp:not-found', `The messaging entity '${what}' could not be found. ${hint}`);
    if (parts[0] !== hub) throw missing(parts[0] ?? '', `This endpoint serves the event hub '${hubName}'.`);
    const partition = (id: string | undefined) => {
      if (id === undefined || !eventLog.partitionIds.includes(id)) throw new AmqpError('amqp:not-found', `no partition '${id ?? ''}' (the hub has ${eventLog.partitionIds.length})`);
      return id;
    };
    if (parts.length === 1) return { kind: 'hub' };
    if (parts.length === 3 && parts[1] === 'partitions') return { kind: 'partition', partitionId: partition(parts[2]) };
    if (parts.length === 5 && parts[1] === 'consumergroups' && parts[3] === 'partitions') {
      const group = groups.get(parts[2]!);
      if (!group) throw missing(`${hubName}/consumergroups/${parts[2]}`, `The hub's consumer groups: ${[...groups.values()].join(', ')}.`);
      return { kind: 'consumer', group, partitionId: partition(parts[4]) };
    }
    throw new AmqpError('amqp:not-found', `no entity at '${address}'`);
  }

  function refuse(link: Sender | Receiver, error: unknown): void {
    stats.refusedLinks++;
    const e = error instanceof AmqpError ? error : new AmqpError('amqp:internal-error', (error as Error).message);
    say(`event hubs: refused link ${link.name}: ${e.message}`);
    link.close({ condition: e.condition, description: e.message });
  }

  /** Replies to a request on `$cbs` or `$management` over the link whose target is its reply-to. */
  function reply(context: EventContext, status: number, description: string, body?: unknown): void {
    const request = context.message!;
    const to = request.reply_to;
    // By the reply-to its link named as target, else the session's one link out of this node.
    const links = replyLinks.get(context.session!) ?? [];
    const node = context.receiver!.target?.address;
    const out = links.find((l) => typeof to === 'string' && l.target?.address === to) ?? links.find((l) => l.source?.address === node && !l.is_closed());
    context.delivery!.accept();
    if (!out) return say(`event hubs: no reply link for '${String(to)}'`);
    out.send({
      correlation_id: request.message_id,
      to,
      // An int, as the service sends it: the .NET client reads nothing else as a status.
      application_properties: { 'status-code': rhea.types.wrap_int(status), 'status-description': description },
      body: body ?? null,
    });
  }

  function onCbs(context: EventContext): void {
    const m = context.message!;
    const props = m.application_properties ?? {};
    if (props.operation !== 'put-token') return reply(context, 400, `unsupported operation '${String(props.operation)}'`);
    try {
      const claim = checkToken(m.body);
      const list = claims.get(context.connection) ?? [];
      claims.set(context.connection, [...list.filter((c) => c.expiresAt > now()), claim]);
      reply(context, 202, 'Accepted');
    } catch (error) {
      stats.refusedTokens++;
      say(`event hubs: refused token: ${(error as Error).message}`);
      reply(context, 401, (error as Error).message);
    }
  }

  function onManagement(context: EventContext): void {
    const props = context.message!.application_properties ?? {};
    try {
      if (props.operation !== 'READ') throw new AmqpError('amqp:not-implemented', `unsupported operation '${String(props.operation)}'`);
      const claim = checkToken(props.security_token);
      if (!covers(claim.path, hub)) throw new AmqpError('amqp:unauthorized-access', `the token does not cover '${hubName}'`);
      if (String(props.name ?? '').toLowerCase() !== hub) throw new AmqpError('amqp:not-found', `no event hub '${String(props.name)}' here`);
      if (props.type === 'com.microsoft:eventhub') {
        // Typed as the service types them (an int count, an array of str32): the .NET client casts strictly.
        return reply(context, 200, 'OK', { name: hubName, type: 'com.microsoft:eventhub', created_at: new Date(eventLog.createdAt), partition_count: rhea.types.wrap_int(eventLog.partitionIds.length), partition_ids: rhea.types.wrap_array(eventLog.partitionIds, 0xb1, undefined as never) });
      }
      if (props.type === 'com.microsoft:partition') {
        const id = String(props.partition);
        if (!eventLog.partitionIds.includes(id)) throw new AmqpError('amqp:not-found', `no partition '${id}'`);
        const { first, next } = eventLog.bounds(id);
        return reply(context, 200, 'OK', { name: hubName, type: 'com.microsoft:partition', partition: id, begin_sequence_number: rhea.types.wrap_long(first), ...lastEnqueued(id), is_partition_empty: next <= first });
      }
      throw new AmqpError('amqp:not-found', `unknown entity type '${String(props.type)}'`);
    } catch (error) {
      const e = error as AmqpError;
      reply(context, e.condition === 'amqp:unauthorized-access' ? 401 : e.condition === 'amqp:not-found' ? 404 : 400, e.message);
    }
  }

  /** One event a producer sent (inside a batch or alone) → the log. */
  function eventOf(m: Message, target: { partitionId: string }): Parameters<EventLog['append']>[0] {
    const annotations = (m.message_annotations ?? {}) as Record<string, unknown>;
    const key = annotations['x-opt-partition-key'];
    const systemProperties: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(PROPERTY_FIELDS)) {
      const v = m[field];
      if (v !== undefined && v !== null) systemProperties[name] = typeof v === 'string' || typeof v === 'number' ? v : String(v);
    }
    for (const k of Object.keys(annotations)) if (!SERVICE_ANNOTATIONS.has(k)) systemProperties[k] = annotations[k];
    const properties: Record<string, PropertyValue> = {};
    for (const [k, v] of Object.entries(m.application_properties ?? {})) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') properties[k] = v;
      else if (v instanceof Date) properties[k] = v.toISOString();
    }
    const body = m.body as unknown;
    const bytes = Buffer.isBuffer(body)
      ? body
      : body && typeof body === 'object' && 'typecode' in body && (body as { typecode: number }).typecode === 0x75
        ? Buffer.from((body as unknown as { content: Buffer }).content)
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body ?? null));
    return { partitionKey: typeof key === 'string' ? key : '', partitionId: target.partitionId, body: bytes, properties, systemProperties };
  }

  async function onEvent(context: EventContext, target: { partitionId?: string }): Promise<void> {
    const delivery = context.delivery as Delivery & { format?: number };
    const m = context.message!;
    try {
      let events: Message[] = [m];
      if (delivery.format === BATCH_FORMAT) {
        // rhea hands a delivery of another format over undecoded: the envelope, whose data sections are the events.
        const envelope = rhea.message.decode(context.message as unknown as Buffer) as unknown as Message;
        const body = envelope.body as { multiple?: boolean; content: Buffer | Buffer[] } | undefined;
        if (!body?.content) throw new AmqpError('amqp:decode-error', 'a batch must carry its events as data sections');
        const sections = body.multiple ? (body.content as Buffer[]) : [body.content as Buffer];
        events = sections.map((b) => rhea.message.decode(b) as unknown as Message);
      }
      // A delivery goes to one partition, as the service keeps a batch together: the one named,
      // else its partition key's, else the next in turn.
      const key = events[0]?.message_annotations?.['x-opt-partition-key'];
      const where = { partitionId: target.partitionId ?? (typeof key === 'string' ? eventLog.partitionFor(key) : eventLog.partitionIds[roundRobin++ % eventLog.partitionIds.length]!) };
      await Promise.all(events.map((e) => eventLog.append(eventOf(e, where))));
      stats.eventsReceived += events.length;
      delivery.accept();
    } catch (error) {
      say(`event hubs: could not append: ${(error as Error).message}`);
      delivery.reject({ condition: 'amqp:internal-error', description: (error as Error).message });
    }
  }

  /** Sends what the receiver's credit allows; waits for the log when it has nothing new. */
  function pump(r: ReceiverLink): void {
    if (r.closed || r.waiting) return;
    while (r.sender.sendable()) {
      const credit = (r.sender as unknown as { credit: number }).credit;
      const records = eventLog.read(r.partitionId, r.next, Math.min(READ_CHUNK, credit));
      if (records.length === 0) {
        r.waiting = true;
        void eventLog.waitFor(r.partitionId, r.next, 1000).then(() => {
          r.waiting = false;
          pump(r);
        });
        return;
      }
      const runtime = r.runtimeMetric ? { ...lastEnqueued(r.partitionId), runtime_info_retrieval_time_utc: new Date(now()) } : undefined;
      for (const record of records) {
        const m = messageOf(record);
        if (runtime) m.delivery_annotations = runtime;
        r.sender.send(m);
      }
      r.next = records[records.length - 1]!.sequenceNumber + 1;
      stats.eventsDelivered += records.length;
    }
  }

  /** Where a partition ends now, as `$management` and the runtime metrics say it. */
  function lastEnqueued(partitionId: string): Record<string, unknown> {
    const { first, next } = eventLog.bounds(partitionId);
    const last = next > first ? eventLog.read(partitionId, next - 1, 1)[0] : undefined;
    return {
      last_enqueued_sequence_number: rhea.types.wrap_long(next - 1),
      last_enqueued_offset: String(last?.offset ?? -1),
      last_enqueued_time_utc: new Date(last?.enqueuedTime ?? 0),
    };
  }

  function startPosition(partitionId: string, filter: unknown): number {
    const text = typeof filter === 'string' ? filter : (filter as { value?: unknown } | undefined)?.value;
    const { first, next } = eventLog.bounds(partitionId);
    if (typeof text !== 'string') return first;
    const { field, inclusive, value } = parseSelector(text);
    if (field === 'offset') {
      if (value === '@latest') return next;
      if (value === '-1') return first;
      const offset = Number(value);
      if (!Number.isSafeInteger(offset) || offset < -1) throw new AmqpError('amqp:invalid-field', `offset '${value}' is not a number`);
      return eventLog.sequenceAtOffset(partitionId, offset, inclusive);
    }
    const n = Number(value);
    if (!Number.isFinite(n)) throw new AmqpError('amqp:invalid-field', `'${value}' is not a number`);
    if (field === 'sequence') {
      if (!Number.isSafeInteger(n)) throw new AmqpError('amqp:invalid-field', `sequence number '${value}' is not a whole number`);
      return Math.min(Math.max(first, inclusive ? n : n + 1), next);
    }
    return eventLog.sequenceAfterTime(partitionId, inclusive ? n - 1 : n);
  }

  function openReceiver(sender: Sender, group: string, partitionId: string): void {
    const attach = (sender as unknown as { remote: { attach: { properties?: Record<string, unknown>; source?: { filter?: Record<string, unknown> }; desired_capabilities?: unknown } } }).remote.attach;
    const rawEpoch = attach.properties?.[EPOCH];
    const epoch = rawEpoch === undefined || rawEpoch === null ? undefined : Number(rawEpoch);
    const key = `${group.toLowerCase()}/${partitionId}`;
    const set = receivers.get(key) ?? new Set<ReceiverLink>();
    receivers.set(key, set);
    const highest = Math.max(-1, ...[...set].map((r) => r.epoch ?? -1));
    const hasEpoch = [...set].some((r) => r.epoch !== undefined);
    if (epoch === undefined ? hasEpoch : epoch < highest) {
      throw new AmqpError('amqp:link:stolen', `a receiver with a higher owner level (${highest}) holds partition ${partitionId} of consumer group '${group}'`);
    }
    const next = startPosition(partitionId, attach.source?.filter?.[SELECTOR]);
    if (epoch !== undefined) {
      for (const other of set) {
        // An equal owner level takes over too: the newest claim wins, as the service has it.
        if ((other.epoch ?? -1) > epoch) continue;
        other.closed = true;
        set.delete(other);
        stats.stolenLinks++;
        other.sender.close({ condition: 'amqp:link:stolen', description: `a receiver with owner level ${epoch} took partition ${partitionId} of consumer group '${group}'` });
      }
    } else if (set.size >= 5) {
      throw new AmqpError('amqp:resource-limit-exceeded', `at most 5 receivers per partition and consumer group (partition ${partitionId}, '${group}')`);
    }
    // Events go pre-settled, as the service sends them: the reader owes no disposition, so none can
    // arrive for a link or session it has closed meanwhile (rhea would fail the whole connection).
    (sender as unknown as { local: { attach: { snd_settle_mode: number } } }).local.attach.snd_settle_mode = 1;
    const runtimeMetric = ([] as unknown[]).concat(attach.desired_capabilities ?? []).includes('com.microsoft:enable-receiver-runtime-metric');
    // Not ready until our attach is on the wire: rhea writes transfers queued in this turn ahead of
    // it, and a strict client (the .NET one) ends the session over a transfer on an unknown link.
    const r: ReceiverLink = { sender, group, partitionId, epoch, next, waiting: true, closed: false, runtimeMetric };
    set.add(r);
    byLink.set(sender, r);
    setImmediate(() => {
      r.waiting = false;
      pump(r);
    });
  }

  const container = rhea.create_container({ id: `event-hubs-${hubName}` });
  container.sasl_server_mechanisms.enable_anonymous();
  // The service's own mechanism, which the .NET client asks for: like ANONYMOUS, authorisation
  // follows on $cbs.
  (container.sasl_server_mechanisms as unknown as Record<string, () => unknown>).MSSBCBS = () => {
    const mechanism = { outcome: undefined as boolean | undefined, username: 'cbs', start: () => void (mechanism.outcome = true) };
    return mechanism;
  };

  container.on('connection_open', (context: EventContext) => {
    stats.connections++;
    connections.add(context.connection);
  });
  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    echoTermini(sender);
    const address = sender.source?.address ?? '';
    try {
      if (address === '$cbs' || address === '$management') {
        const links = replyLinks.get(context.session!) ?? [];
        replyLinks.set(context.session!, [...links.filter((l) => !l.is_closed()), sender]);
        return;
      }
      const e = entity(address);
      if (e.kind !== 'consumer') throw new AmqpError('amqp:not-allowed', `'${address}' cannot be read from: name a consumer group and partition`);
      authorise(context.connection, pathOf(address), 'Listen');
      openReceiver(sender, e.group, e.partitionId);
    } catch (error) {
      refuse(sender, error);
    }
  });
  container.on('sendable', (context: EventContext) => {
    const r = byLink.get(context.sender!);
    if (r) pump(r);
  });
  const forget = (context: EventContext) => {
    const sender = context.sender;
    const r = sender && byLink.get(sender);
    if (!r) return;
    r.closed = true;
    receivers.get(`${r.group.toLowerCase()}/${r.partitionId}`)?.delete(r);
  };
  container.on('sender_close', forget);
  container.on('sender_error', forget);
  container.on('disconnected', (context: EventContext) => {
    connections.delete(context.connection);
    for (const set of receivers.values()) {
      for (const r of set) {
        if (r.sender.connection === context.connection) {
          r.closed = true;
          set.delete(r);
        }
      }
    }
  });

  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    echoTermini(receiver);
    echoSenderSettleMode(receiver);
    const address = receiver.target?.address ?? '';
    try {
      if (address === '$cbs' || address === '$management') return;
      const e = entity(address);
      if (e.kind === 'consumer') throw new AmqpError('amqp:not-allowed', `'${address}' cannot be sent to: send to the hub or a partition`);
      authorise(context.connection, pathOf(address), 'Send');
      // The service's limit for a message or batch (Standard tier): clients size their batches by it.
      (receiver as unknown as { local: { attach: { max_message_size: number } } }).local.attach.max_message_size = MAX_MESSAGE_BYTES;
    } catch (error) {
      refuse(receiver, error);
    }
  });
  container.on('message', (context: EventContext) => {
    const address = context.receiver!.target?.address ?? '';
    if (address === '$cbs') return onCbs(context);
    if (address === '$management') return onManagement(context);
    let target: { partitionId?: string } = {};
    try {
      const e = entity(address);
      if (e.kind === 'partition') target = { partitionId: e.partitionId };
    } catch (error) {
      context.delivery!.reject({ condition: (error as AmqpError).condition, description: (error as Error).message });
      return;
    }
    void onEvent(context, target);
  });
  container.on('error', (error: Error) => say(`event hubs: ${error.message}`));

  const server = container.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 5672, autoaccept: false, credit_window: 500 } as never) as unknown as Server;
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const hostName = options.hostName ?? 'localhost';
  return {
    port,
    hubName,
    stats,
    connectionString(policy = DEVELOPMENT_POLICY, withEntityPath = true) {
      const p = policies.get(policy);
      if (!p) throw new Error(`no shared access policy '${policy}'`);
      return `Endpoint=sb://${hostName}:${port};SharedAccessKeyName=${policy};SharedAccessKey=${p.key};UseDevelopmentEmulator=true${withEntityPath ? `;EntityPath=${hubName}` : ''}`;
    },
    async close() {
      for (const set of receivers.values()) for (const r of set) r.closed = true;
      receivers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.close();
      (server as unknown as { unref(): void }).unref();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  };
}

/**
 * The settle mode a sender asks for stands, as the service answers it. The .NET client takes our
 * attach's mode as final: its request links ($cbs, $management) ask for settled sends with an
 * empty delivery tag, and answered with rhea's default (mixed) they kept every request unsettled
 * under that one tag, so two requests in flight at once threw in the client.
 */
function echoSenderSettleMode(receiver: Receiver): void {
  const link = receiver as unknown as { remote: { attach: { snd_settle_mode?: number | null } }; local: { attach: { snd_settle_mode?: number } } };
  const asked = link.remote.attach.snd_settle_mode;
  if (asked === 0 || asked === 1 || asked === 2) link.local.attach.snd_settle_mode = asked;
}

/** The attach we answer with names the peer's source and target, as the service's does. */
function echoTermini(link: Sender | Receiver): void {
  const remote = (link as unknown as { remote: { attach: { source?: TerminusOptions; target?: TerminusOptions } } }).remote.attach;
  if (remote.source) link.set_source(remote.source);
  if (remote.target) link.set_target(remote.target);
}

/** An event as the service delivers it: the log's record with the service's annotations. */
function messageOf(record: EventRecord): Message {
  const annotations: Record<string, unknown> = {
    'x-opt-sequence-number': rhea.types.wrap_long(record.sequenceNumber),
    'x-opt-offset': String(record.offset),
    'x-opt-enqueued-time': new Date(record.enqueuedTime),
  };
  if (record.partitionKey) annotations['x-opt-partition-key'] = record.partitionKey;
  const m: Message = { body: rhea.message.data_section(record.body), application_properties: record.properties };
  for (const [k, v] of Object.entries(record.systemProperties)) {
    const field = Object.hasOwn(PROPERTY_FIELDS, k) ? PROPERTY_FIELDS[k] : undefined;
    if (field) (m as unknown as Record<string, unknown>)[field] = v;
    else annotations[k] = v;
  }
  m.message_annotations = annotations;
  return m;
}
