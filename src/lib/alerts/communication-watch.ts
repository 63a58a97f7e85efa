/**
 * The communication-loss alarm: equipment in service that has sent nothing at all for
 * `silentAfterMs` (or, when it reports more slowly, while three of its readings in a row are missing:
 * `silenceDelayMs`) is not watched (its gateway, network or power lost), and readings cannot say so,
 * since there are none. This sweep, run by a timer, finds such equipment by the service's clock
 * (when IoT Hub took its newest reading in, the sourceTime written with the twin's `lastTelemetryTime`,
 * or when that was written for a reading that came late: `heardAt`; never the device's clock) and raises its incident to warning through the alarm lifecycle, as
 * the pipeline raises one on readings: flood suppression per line, shelving, one card, an
 * AlarmEvents row, the flag the dashboard lists and acknowledges, the twin's health. The readings
 * that come again clear it in the pipeline, on their evidence, as any incident clears.
 *
 * A machine on a line stopped, in changeover or in maintenance (the line twin's `lineStatus`) is
 * expected quiet, as the whole plant is off shift; on a line set running again its silence counts
 * from then. An incident still open on such a machine once it is past its delay (raised for its
 * silence before the line was set at rest, or on readings before it went quiet) clears: it sends
 * nothing that could clear it, and would stand for as long as the line rests.
 *
 * Off the plant's working hours silence is expected too (designed suppression), and on a line that
 * keeps its own (`lineHours`), off that line's: each machine past its delay is then judged by its
 * line's hours once its line is known.
 *
 * When no equipment in service has been heard from lately (`recentMs`, plus its usual interval for a
 * machine that reports more slowly) while some is silent, the cause is common (the plant's uplink,
 * IoT Hub's route, or telemetryIngest held up), not each machine: ISA-18.2 wants one alarm for it,
 * not a card per machine blaming its gateway. The sweep then raises nothing and logs
 * `PLANT_SILENT_LOG` as an error, on which Azure Monitor pages operations (infra/modules/monitoring.bicep).
 *
 * A machine whose incident stands at warning or above on its readings when it falls silent is not
 * raised again, but its silence is news (a degrading machine gone quiet may have failed): the
 * incident records it once (`AlarmLifecycle.fallSilent`), and those told of the incident get one
 * card, its priority and the twin's health unchanged.
 *
 * Each step is written before the next: the rows (idempotent: named after the silence), the card,
 * then the twin with If-Match. A sweep that fails after the card raises the same incident again
 * next time under the same names, so nothing is recorded twice; its card is not posted twice by
 * this instance (another one may: Teams cards are at least once).
 */
import { AlarmLifecycle, notifiedOf, OUT_OF_SERVICE, reviveAlarmState, type AlarmEvent, type AlarmSettings, type AlarmState } from './alarm-lifecycle.ts';
import { deviceLinkDetail, deviceLinkOf, eventDetail, lineAtRestDetail } from './conditions.ts';
import { storedUsualIntervalMs } from '../anomaly/detector-state.ts';
import { BoundedSet, forEachLimited } from '../bounded-set.ts';
import { isAppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Alert, AlertSink, ClaimWindowPort, ConnectionEvent, DeviceConnection, DeviceConnectionsPort, JsonPatchOp, TelemetryReadPort, TelemetryStorePort, TwinState, TwinsPort } from '../ports.ts';
import type { TelemetryCatalog } from '../telemetry/catalog.ts';
import { toTwinState } from '../twins/adt-twins.ts';
import { heardAt } from '../twins/twin-metadata.ts';
import { EquipmentLines } from '../twins/equipment-lines.ts';
import type { Thresholds } from '../twins/twin-update.ts';
import type { WorkingHours } from '../plant/working-hours.ts';
import { lineAtRest, readLineStatuses, runningSince, type LineStatus } from '../plant/line-status.ts';

export interface CommunicationWatchDeps {
  catalog: TelemetryCatalog;
  twins: TwinsPort;
  store: Pick<TelemetryStorePort, 'write'>;
  /** The readings refused lately, by device (DeadLetters): a machine silent to its twin whose readings arrive but are refused is told so. */
  refused?: Pick<TelemetryReadPort, 'deadLetterGroups'> | undefined;
  /** IoT Hub's registry: whether a silent machine's device identity is enabled, disabled or gone (and, without connection events, connected), for its card. */
  connections?: DeviceConnectionsPort | undefined;
  /** IoT Hub's connection state events as stored (DeviceConnections): a machine whose device it saw disconnect is raised after `recentMs`, not the delay. */
  connectionEvents?: Pick<TelemetryReadPort, 'latestConnections'> | undefined;
  alerts?: AlertSink | undefined;
  /** The flood window all instances share, when there is one (else this sweep's own). */
  floods?: ClaimWindowPort | undefined;
  settings: { thresholds: Thresholds; alarms?: Partial<AlarmSettings> | undefined; dashboardUrl: string | undefined };
  logger: Logger;
  concurrency: number;
  /**
   * Equipment heard from within this long shows that telemetry flows (default three minutes, at
   * most the alarm's delay): longer than the twin's write may trail a reading (a patch interval and
   * a twin refresh), shorter than the delay, so that the machines of a plant gone silent at once,
   * which cross the delay a little apart, are seen together.
   */
  recentMs?: number;
  /** The plant's working hours: outside them silence is expected (nothing raised, nothing logged), and within them it counts from the period's start at the earliest. Absent: always working. */
  workingHours?: WorkingHours | undefined;
  /** Lines that keep their own working hours (by twin id): their machines follow those instead of the plant's. */
  lineHours?: ReadonlyMap<string, WorkingHours> | undefined;
  now?: () => number;
}

export interface CommunicationWatchResult {
  /** Equipment that has sent telemetry, silent or not. */
  equipment: number;
  /** In service and silent for the alarm's delay or longer. */
  silent: number;
  /** Incidents raised (or made warning) for a silence this sweep. */
  raised: number;
  /** Cards this sweep handed to delivery (raises, silences and clears at rest alike). */
  told: number;
  /** Of the silent, those judged after the shorter delay because IoT Hub's events say their device disconnected. */
  offNetwork?: number;
  /** Incidents standing at warning or above on readings whose machine fell silent, recorded this sweep (told with `told`). */
  fellSilent?: number;
  errors: number;
  /**
   * Steps recorded (rows, and their card when people are told) whose twin changed between the
   * sweep's read and its write (readings came, the refresh caught the twin up, an operator wrote):
   * the twin is left as it is and the next sweep judges it again, naming the same incident and card.
   */
  changedMeanwhile?: number;
  /** No machine in service heard from lately (two or more in service) and some silent: a common cause, logged, no machine raised. */
  plantSilent?: true;
  /** Outside the plant's working hours, and every line's that keeps its own: nothing was read or raised. */
  offShift?: true;
  /** Past their delay, but on a line that keeps its own hours (or the plant's, while another line works) and is off shift: expected quiet. */
  offShiftLines?: number;
  /** In service and past the delay, but on a line stopped, in changeover or in maintenance: expected quiet, not silent. */
  onLinesAtRest?: number;
  /** Of those, the incidents that were open and cleared this sweep. */
  clearedAtRest?: number;
}

/** What the sweep logs (as an error) when no equipment in service has been heard from for the delay. */
export const PLANT_SILENT_LOG = 'no telemetry from any equipment';

/** What a card and its rows call the watch, where a reading's would name its model. */
export const COMMUNICATION_WATCH_VERSION = 'communication-watch';

const QUERY = 'SELECT * FROM DIGITALTWINS T WHERE IS_DEFINED(T.lastTelemetryTime)';
/** Statuses of a machine expected to be quiet: out of service, or stopped by an emergencyStop (it says so once and stops sending). */
const AT_REST: ReadonlySet<string> = new Set([...OUT_OF_SERVICE, 'emergencyStopped']);

export class CommunicationWatch {
  private readonly lifecycle: AlarmLifecycle;
  private readonly now: () => number;
  /** Cards this instance posted: a sweep after a failed twin patch raises the same incident, not a second card. */
  private readonly cardsSent = new BoundedSet<string>(10_000);
  private readonly lines: EquipmentLines;

  constructor(private readonly deps: CommunicationWatchDeps) {
    this.lifecycle = new AlarmLifecycle({ ...deps.settings.alarms, thresholds: deps.settings.thresholds });
    this.now = deps.now ?? Date.now;
    this.lines = new EquipmentLines(deps.twins);
  }

  get silentAfterMs(): number {
    return this.lifecycle.settings.silentAfterMs;
  }

  /** One sweep; `logger`: where its lines go (the timer's invocation, so they land in Application Insights with it). */
  async run(logger: Logger = this.deps.logger): Promise<CommunicationWatchResult> {
    const now = this.now();
    const result: CommunicationWatchResult = { equipment: 0, silent: 0, raised: 0, told: 0, errors: 0 };
    const silent: Silent[] = [];
    let heard = 0;
    let inService = 0;
    const recentMs = Math.min(this.deps.recentMs ?? 3 * 60_000, this.silentAfterMs);
    // Off shift, the plant's machines (and often its uplink) are expected to be quiet: designed suppression.
    const hours = this.deps.workingHours;
    const lineHours = this.deps.lineHours ?? new Map<string, WorkingHours>();
    if (hours && !hours.working(now) && ![...lineHours.values()].some((h) => h.working(now))) return { ...result, offShift: true };
    // On shift, a silence counts from the working period's start at the earliest: the machines off overnight have the delay to start sending.
    // When lines keep hours of their own, a machine's shift is its line's, judged once its line is known.
    const shiftBegan = lineHours.size ? -Infinity : (hours?.periodStart(now) ?? -Infinity);
    let pastDelay: Silent[] = [];
    let token: string | undefined;
    do {
      const page = await this.deps.twins.query(QUERY, token);
      for (const twin of page.items) {
        result.equipment++;
        // Heard from when IoT Hub took its newest reading in (or, for one that came late, when it reached the twin): never the device's clock.
        const since = heardAt(twin);
        const status = typeof twin.status === 'string' ? twin.status : undefined;
        if (since === undefined || (status !== undefined && AT_REST.has(status))) continue;
        inService++;
        const quiet = now - since;
        if (quiet < recentMs) {
          heard++;
          continue;
        }
        // Quiet for a while: what counts as lately and as silent for this machine depends on how often it reports.
        const { delayMs, usualMs } = silenceDelayMs(twin, this.silentAfterMs);
        if (quiet < Math.min(delayMs, recentMs + usualMs)) heard++;
        const countsFrom = Math.max(since, shiftBegan);
        // Its device off the network by IoT Hub's own events, a machine has the shorter delay (below): a candidate from then.
        const offDelayMs = this.deps.connectionEvents ? delayAfterMissed(usualMs, recentMs) : delayMs;
        if (now - countsFrom < Math.min(delayMs, offDelayMs)) continue;
        const current = toTwinState(twin);
        pastDelay.push({ twin, current, state: reviveAlarmState(current.alarmState), since, startedAt: shiftBegan, countsFrom, delayMs, fullDelayMs: delayMs, offDelayMs });
      }
      token = page.continuationToken;
    } while (token);
    // IoT Hub's latest connection event for each (one read): a machine whose device it saw disconnect
    // while watched is judged after `recentMs` (or its usual readings missed), not the whole delay
    // (`due`); the others wait for the delay as before. Its card says what the event said.
    const events = await this.connectionEventsOf(pastDelay, logger);
    for (const machine of pastDelay) {
      const event = events.get(machine.current.id);
      if (event?.connected === false) machine.offAt = event.at;
    }
    const due = (machine: Silent) => {
      // Off the network since before its shift began or its line was set running, it has the whole delay to come back, as the others.
      machine.offNetwork = machine.offAt !== undefined && machine.offAt >= machine.startedAt ? true : undefined;
      machine.delayMs = machine.offNetwork ? machine.offDelayMs : machine.fullDelayMs;
      return now - machine.countsFrom >= machine.delayMs;
    };
    pastDelay = pastDelay.filter(due);
    // The lines' statuses: a line not running is expected quiet. Its machines' lines are looked up only
    // when some line's status bears on them (at rest, or set running since a silence began to count); else only those raised.
    const lines = new Map<string, string>();
    const lookUp = (machines: readonly Silent[]) => forEachLimited(machines, this.deps.concurrency, async ({ current: { id } }) => void lines.set(id, (await this.lines.lineOf(id)) ?? id));
    const statuses = pastDelay.length ? await readLineStatuses(this.deps.twins) : new Map<string, LineStatus>();
    const earliest = pastDelay.reduce((first, m) => Math.min(first, m.countsFrom), Infinity);
    if (lineHours.size || [...statuses.values()].some((l) => lineAtRest(l) || runningSince(l) > earliest)) await lookUp(pastDelay);
    const resting: { machine: Silent; line: LineStatus }[] = [];
    const fallen: Silent[] = [];
    // When each set of hours' shift began (undefined: off shift now; -Infinity: always working), found once a sweep: a period's start is a walk back minute by minute.
    const shifts = new Map<WorkingHours, number | undefined>();
    const shiftOf = (own: WorkingHours | undefined) => {
      if (!own) return -Infinity;
      if (!shifts.has(own)) shifts.set(own, own.periodStart(now));
      return shifts.get(own);
    };
    for (const machine of pastDelay) {
      const lineId = lines.get(machine.current.id) ?? '';
      if (lineHours.size) {
        // Its line's hours, or the plant's: off shift it is expected quiet; on shift its silence counts from the shift's start.
        const began = shiftOf(lineHours.get(lineId) ?? hours);
        if (began === undefined) {
          inService--;
          result.offShiftLines = (result.offShiftLines ?? 0) + 1;
          continue;
        }
        machine.startedAt = Math.max(machine.startedAt, began);
        machine.countsFrom = Math.max(machine.countsFrom, began);
        if (!due(machine)) continue;
      }
      const line = statuses.get(lineId);
      if (lineAtRest(line)) {
        inService--;
        result.onLinesAtRest = (result.onLinesAtRest ?? 0) + 1;
        if (machine.state.id) resting.push({ machine, line: line! });
        continue;
      }
      // A line set running again: its machines have the delay from then to start sending.
      machine.startedAt = Math.max(machine.startedAt, runningSince(line));
      machine.countsFrom = Math.max(machine.countsFrom, machine.startedAt);
      if (!due(machine)) continue;
      result.silent++;
      // Standing at warning or above on other evidence: nothing to raise, but its silence is news once.
      if (machine.state.p === 'warning' || machine.state.p === 'critical') {
        if (machine.state.s === undefined) fallen.push(machine);
        continue;
      }
      silent.push(machine);
    }
    for (const { machine, line } of resting) {
      try {
        if (await this.clearAtRest(machine, lines.get(machine.current.id)!, line, logger, result)) result.clearedAtRest = (result.clearedAtRest ?? 0) + 1;
      } catch (error) {
        result.errors++;
        logger.log('error', 'incident of a machine on a line at rest not cleared (tried again next sweep)', { deviceId: machine.current.id, error: (error as Error).message });
      }
    }
    if (heard === 0 && inService >= 2 && result.silent >= 1) {
      logger.log('error', PLANT_SILENT_LOG, { silent: result.silent, minutes: Math.round(this.silentAfterMs / 60_000), cause: "the plant's uplink, IoT Hub's route to the Event Hub, or telemetryIngest held up: no machine was raised on its own" });
      return { ...result, plantSilent: true };
    }
    // In the order the silences became alarms, so that a line's flood window keeps the first ones.
    silent.sort((a, b) => a.since - b.since);
    const refused = silent.length || fallen.length ? await this.refusedLately(now, logger) : new Map<string, Refused>();
    const connections = await this.connectionsOf([...silent, ...fallen], events, logger);
    const offNetwork = [...silent, ...fallen].filter((m) => m.offNetwork).length;
    if (offNetwork) result.offNetwork = offNetwork;
    await lookUp([...silent, ...fallen].filter((m) => !lines.has(m.current.id)));
    for (const machine of silent) {
      const deviceId = machine.current.id;
      try {
        if (await this.raise(machine, lines.get(deviceId)!, now, logger, refused.get(deviceId), connections.get(deviceId), result)) result.raised++;
      } catch (error) {
        result.errors++;
        logger.log('error', 'communication-loss alarm not raised (tried again next sweep)', { deviceId, error: (error as Error).message });
      }
    }
    for (const machine of fallen) {
      const deviceId = machine.current.id;
      try {
        if (await this.fallSilent(machine, lines.get(deviceId)!, now, refused.get(deviceId), connections.get(deviceId), result)) result.fellSilent = (result.fellSilent ?? 0) + 1;
      } catch (error) {
        result.errors++;
        logger.log('error', "an incident's machine gone silent not recorded (tried again next sweep)", { deviceId, error: (error as Error).message });
      }
    }
    return result;
  }

  /**
   * Readings refused since the delay began, by device: such a machine is not silent, its readings
   * are refused (a firmware that changed what it sends, say), and its card must say so rather than
   * send someone to its gateway. Unknown when the store cannot say: the card then says what it knows.
   */
  private async refusedLately(now: number, logger: Logger): Promise<Map<string, Refused>> {
    const out = new Map<string, Refused>();
    try {
      for (const g of (await this.deps.refused?.deadLetterGroups(now - this.silentAfterMs, 1_000)) ?? []) {
        if (g.deviceId === null) continue;
        const seen = out.get(g.deviceId);
        if (!seen) out.set(g.deviceId, { count: g.count, reason: g.reason, detail: g.detail, lastAt: g.lastAt });
        else {
          seen.count += g.count;
          if (g.lastAt > seen.lastAt) Object.assign(seen, { reason: g.reason, detail: g.detail, lastAt: g.lastAt });
        }
      }
    } catch (error) {
      logger.log('warn', 'readings refused lately unknown: silent machines are told as silent', { error: (error as Error).message });
    }
    return out;
  }

  /**
   * What IoT Hub says of the silent machines' devices (connected, disconnected, disabled, gone), so
   * that the card sends someone to the right place. Unknown when the registry cannot be read: the
   * cards then say what they know.
   */
  private async connectionsOf(silent: readonly Silent[], events: ReadonlyMap<string, ConnectionEvent>, logger: Logger): Promise<Map<string, DeviceConnection>> {
    if (!silent.length) return new Map();
    let registry = new Map<string, DeviceConnection>();
    try {
      if (this.deps.connections) registry = await this.deps.connections.connectionsOf(silent.map((m) => m.current.id));
    } catch (error) {
      logger.log('warn', "devices' connections unknown: silent machines are told without them", { error: (error as Error).message });
    }
    // The registry says whether the identity is enabled; whether the device is connected, its
    // connection events say (the registry's state is late, and MQTT and AMQP only), when there are any.
    for (const { current: { id } } of silent) {
      const event = events.get(id);
      const known = registry.get(id);
      if (!event || (known && known.identity !== 'enabled')) continue;
      registry.set(id, { ...known, identity: 'enabled', connected: event.connected, since: event.at });
    }
    return registry;
  }

  /** IoT Hub's latest connection event of each machine's device, where the store has one; none when it cannot be read (the delay then stands). */
  private async connectionEventsOf(machines: readonly Silent[], logger: Logger): Promise<Map<string, ConnectionEvent>> {
    if (!machines.length || !this.deps.connectionEvents) return new Map();
    try {
      return await this.deps.connectionEvents.latestConnections(machines.map((m) => m.current.id));
    } catch (error) {
      logger.log('warn', "devices' connection events unknown: silent machines wait for the whole delay", { error: (error as Error).message });
      return new Map();
    }
  }

  private async raise({ twin, current, state, since, countsFrom, delayMs, offNetwork }: Silent, line: string, now: number, logger: Logger, refused: Refused | undefined, connection: DeviceConnection | undefined, tally: CommunicationWatchResult): Promise<boolean> {
    const deviceId = current.id;
    const id = silenceIncidentId(deviceId, since);
    const floods = this.deps.floods;
    let admitted: ((incidentId: string) => boolean | undefined) | undefined;
    if (floods) {
      // The shared window's verdict on this incident, asked only if it would be told (a peek on a copy says).
      const peek = this.lifecycle.raiseForSilence({ ...state }, now, since, { line, id, delayMs, countsFrom, offNetwork, shelvedUntil: current.shelvedUntil, admitted: () => true });
      if (peek?.notify && peek.kind === 'raised') {
        const verdict = await floods.claim(line, peek.incidentId, peek.time).catch((error: Error) => {
          logger.log('warn', "the shared flood window cannot be reached: this sweep's own window decides", { line, error: error.message });
          return undefined;
        });
        admitted = () => verdict;
      }
    }
    const event = this.lifecycle.raiseForSilence(state, now, since, { line, id, delayMs, countsFrom, offNetwork, shelvedUntil: current.shelvedUntil, ...(admitted ? { admitted } : {}) });
    if (!event) return false;
    return this.record({ twin, current, state }, line, event, tally, {
      detail: silenceDetail(event.reopened, connection),
      health: 'warning',
      card: { severity: 'warning', condition: 'silent', silent: silentOf(since, refused, connection) },
    });
  }

  /** The incident standing on a machine's readings when it fell silent: recorded once, told to those told of the incident, its priority and health unchanged. */
  private async fallSilent({ twin, current, state, since, countsFrom, delayMs, offNetwork }: Silent, line: string, now: number, refused: Refused | undefined, connection: DeviceConnection | undefined, tally: CommunicationWatchResult): Promise<boolean> {
    const event = this.lifecycle.fallSilent(state, now, since, { delayMs, countsFrom, offNetwork, shelvedUntil: current.shelvedUntil, silenceId: silenceIncidentId(current.id, since) });
    if (!event) return false;
    return this.record({ twin, current, state }, line, event, tally, {
      detail: silenceDetail(undefined, connection),
      card: { severity: event.priority === 'critical' ? 'critical' : 'warning', condition: 'silent', silent: silentOf(since, refused, connection) },
    });
  }

  /** The open incident of a machine past its delay on a line at rest clears (`AlarmLifecycle.clearAtRest`), when the line was set so or when the machine's delay passed, whichever is later. */
  private async clearAtRest({ twin, current, state, countsFrom, delayMs }: Silent, line: string, status: LineStatus, logger: Logger, tally: CommunicationWatchResult): Promise<boolean> {
    const event = this.lifecycle.clearAtRest(state, Math.max(status.since ?? this.now(), countsFrom + delayMs), current.shelvedUntil);
    if (!event) return false;
    // At rest: stopped, in changeover or in maintenance, never unset.
    const at = status.status!;
    const landed = await this.record({ twin, current, state }, line, event, tally, { detail: lineAtRestDetail(at), health: 'normal', card: { severity: event.priority === 'critical' ? 'critical' : 'warning', lineAtRest: { status: at, since: status.since } } });
    if (landed) logger.log('info', 'incident cleared: its line is at rest', { deviceId: current.id, incidentId: event.incidentId, line, lineStatus: at });
    return landed;
  }

  /**
   * One step of a machine's incident, each part written before the next: its rows (a raise's flag
   * is what the dashboard lists and acknowledges), its card when people are told, then the twin
   * with If-Match. False when the twin changed since the sweep read it: the next sweep judges it as
   * it is then. `tally` counts the cards handed over and the twins found changed.
   */
  private async record({ twin, current, state }: Pick<Silent, 'twin' | 'current' | 'state'>, line: string, event: AlarmEvent, tally: CommunicationWatchResult, how: { detail: string; health?: 'warning' | 'normal'; card: Pick<Alert, 'severity' | 'condition' | 'silent' | 'lineAtRest'> }): Promise<boolean> {
    const deviceId = current.id;
    const kind = this.deps.catalog.forTwinModel(current.modelId);
    const at = new Date(event.time).toISOString();
    const silent = how.card.silent;
    await this.deps.store.write({
      telemetry: [],
      deadLetters: [],
      anomalies: event.kind === 'raised' && silent ? [{ Timestamp: at, DeviceId: deviceId, MessageId: `silent-${silent.since}`, Severity: 'warning', AnomalyScore: 0, FailureProbability: null, Contributions: {}, ModelVersion: COMMUNICATION_WATCH_VERSION, AlertId: event.incidentId }] : [],
      alarmEvents: [{ Timestamp: at, IncidentId: event.incidentId, DeviceId: deviceId, Event: event.kind, Priority: event.priority, Notified: notifiedOf(event), Detail: how.detail }],
    });
    const cardId = `${event.incidentId}|${event.kind}|${event.time}`;
    if (event.notify && this.deps.alerts && !this.cardsSent.has(cardId)) {
      const readings: Record<string, unknown> = {};
      for (const name of kind?.telemetryNames ?? []) if (Object.hasOwn(twin, name)) readings[name] = twin[name];
      await this.deps.alerts.send({
        ...how.card,
        id: cardId,
        deviceId,
        modelId: current.modelId,
        equipmentType: kind?.displayName ?? current.modelId,
        time: event.time,
        anomalyScore: 0,
        failureProbability: undefined,
        readings,
        units: { ...kind?.units },
        contributions: {},
        modelVersion: COMMUNICATION_WATCH_VERSION,
        dashboardUrl: this.deps.settings.dashboardUrl,
        line: line === deviceId ? undefined : line,
        incident: { id: event.incidentId, event: event.kind, raisedAt: event.raisedAt ?? event.time, reopened: event.reopened },
      });
      this.cardsSent.add(cardId);
      tally.told++;
    }
    const ops: JsonPatchOp[] = [
      { op: 'add', path: '/alarmState', value: JSON.stringify(state) },
      ...(how.health ? [{ op: 'add' as const, path: '/healthStatus', value: how.health }] : []),
      ...(event.notify ? [{ op: 'add' as const, path: '/lastAlertTime', value: at }] : []),
    ];
    try {
      await this.deps.twins.patch(deviceId, ops, current.etag);
    } catch (error) {
      // Readings came (or an operator wrote) since the query: the next sweep judges the twin as it is now.
      if (isAppError(error) && error.code === 'twin.etagMismatch') {
        tally.changedMeanwhile = (tally.changedMeanwhile ?? 0) + 1;
        return false;
      }
      throw error;
    }
    return true;
  }
}

/** A machine in service silent past its delay, with no incident at warning or above: its twin as queried, as read, its incident state, when it was last heard from, and its delay. */
interface Silent {
  twin: Record<string, unknown>;
  current: TwinState;
  state: AlarmState;
  since: number;
  /** When the silence began to count: `since`, or the working period's start or the line's set running, when later. */
  countsFrom: number;
  /** When its shift began or its line was set running, the later (-Infinity: neither bears on it). */
  startedAt: number;
  /** The delay its silence is judged by: `fullDelayMs`, or `offDelayMs` when `offNetwork`. */
  delayMs: number;
  fullDelayMs: number;
  /** The delay when IoT Hub's events say its device disconnected: `recentMs`, or its usual readings missed when it reports more slowly. */
  offDelayMs: number;
  /** When IoT Hub's latest connection event says its device disconnected. */
  offAt?: number;
  /** Judged after `offDelayMs`: its device disconnected while it was watched (since `startedAt`). */
  offNetwork?: true | undefined;
}

/** The incident a silence since `since` raises (the name its rows and card are known by, so a sweep run again after a failure names it alike). */
const silenceIncidentId = (deviceId: string, since: number) => `${deviceId}|silent-${since}`;

/** A silence step's AlarmEvents Detail: its condition, and what IoT Hub said of the device when it knew. */
function silenceDetail(reopened: boolean | undefined, connection: DeviceConnection | undefined): string {
  const link = deviceLinkOf(connection);
  return [eventDetail('silent', reopened), ...(link ? [deviceLinkDetail(link)] : [])].join(' ');
}

/** What a silent machine's card says of it: since when, the readings refused meanwhile, what IoT Hub says of its device. */
function silentOf(since: number, refused: Refused | undefined, connection: DeviceConnection | undefined): NonNullable<Alert['silent']> {
  return { since, ...(refused ? { refused: { count: refused.count, reason: refused.reason, detail: refused.detail.slice(0, 300) } } : {}), ...(connection ? { connection } : {}) };
}

/** Readings in a row a machine that reports more slowly than the plant's delay allows for may miss before its silence is an alarm. */
export const SILENT_MISSED_READINGS = 3;
/** The longest usual interval taken from a twin: a state patched to say that a machine reports once a year cannot put its alarm off for years. */
const MAX_USUAL_INTERVAL_MS = 86_400_000;

/**
 * How long the twin's machine may send nothing before it is a communication-loss alarm: the plant's
 * delay (`baseMs`), or, for a machine that reports more slowly (a reading every five minutes, which
 * a ten-minute delay would call silent after one message lost), as long as `SILENT_MISSED_READINGS`
 * of its readings missed in a row after the last: its usual interval, learnt by its detector and
 * stored on the twin with its state, is `usualMs` (0 when the twin holds none). For a logger that
 * uploads its readings in arrays it is the interval between its messages (fifteen minutes of one
 * reading a minute at once: one hour), since between uploads nothing is missing.
 */
export function silenceDelayMs(twin: Record<string, unknown>, baseMs: number): { delayMs: number; usualMs: number } {
  const usualMs = usualIntervalMs(twin);
  return { delayMs: delayAfterMissed(usualMs, baseMs), usualMs };
}

/** A machine's usual interval as its detector stored it on the twin (0 when the twin holds none), at most a day. */
export const usualIntervalMs = (twin: Record<string, unknown>): number => Math.min(MAX_USUAL_INTERVAL_MS, storedUsualIntervalMs(Object.hasOwn(twin, 'detectorState') ? twin.detectorState : undefined));

/** The delay of a machine whose usual interval is `usualMs` against a base delay (the plant's, or the shorter one off the network): whichever is longer. */
export const delayAfterMissed = (usualMs: number, baseMs: number): number => Math.max(baseMs, (SILENT_MISSED_READINGS + 1) * usualMs);

/** A device's readings refused lately: how many, and the latest's reason and detail. */
interface Refused {
  count: number;
  reason: string;
  detail: string;
  lastAt: string;
}
