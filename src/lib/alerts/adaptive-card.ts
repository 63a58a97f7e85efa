/**
 * The Teams message for an alert: an Adaptive Card inside the Workflows webhook envelope
 * ({"type":"message","attachments":[…]}). Teams drops cards over ~28 KB, so readings are capped.
 */
import type { Alert, AlertSummary, DeviceConnection } from '../ports.ts';
import { CONDITIONS, driversOf } from './conditions.ts';
import { unitSymbol } from '../telemetry/units.ts';

const MAX_FACTS = 12;

function formatValue(value: unknown, unit: string | undefined): string {
  if (value === null) return 'not measured';
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : String(value);
  return unit ? `${text} ${unit}` : text;
}

/** A time as Adaptive Cards localise it: whole seconds, as their DATE and TIME functions require. */
function localTime(ms: number): string {
  const iso = `${new Date(ms).toISOString().slice(0, 19)}Z`;
  return `{{DATE(${iso}, SHORT)}} {{TIME(${iso})}}`;
}

/** A time in a fact (a plain value, not localised by every host): UTC, to the second, readable. */
const utcTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/** Where to look for a silent machine, from what IoT Hub says of its device: a sentence's end and the next sentence. */
function silentCause(c: DeviceConnection | undefined, heardAt: number): string {
  if (c?.identity === 'unregistered') return ": IoT Hub has no identity for its device (deleted?), so it cannot connect. Register it again.";
  if (c?.identity === 'disabled') return ': its IoT Hub identity is disabled, so it cannot connect. Enable it again if that was not meant.';
  if (c?.connected === false) return `, and IoT Hub saw its device disconnect${c.since === undefined ? '' : ` at ${localTime(c.since)}`}: check its gateway, network and power.`;
  if (c?.connected) {
    const connected = `, yet IoT Hub counts its device as connected${c.since === undefined ? '' : ` since ${localTime(c.since)}`}`;
    // Active well after its last reading taken in: it talks to IoT Hub, and what it sends does not reach us.
    if (c.lastActivity !== undefined && c.lastActivity > heardAt + 60_000) return `${connected} and active at ${localTime(c.lastActivity)}: what it sends does not reach us. Check what it sends and IoT Hub's routes.`;
    return `${connected}: it is online and sends nothing. Check its controller and what it should send.`;
  }
  return ': check its gateway, network and power.';
}

/** What a silent machine's card asks: mend what refuses its readings, or look where IoT Hub points. */
function silentAction(silent: NonNullable<Alert['silent']>): string {
  if (silent.refused) return `Readings from this machine arrive but are refused (${silent.refused.count} lately, ${silent.refused.reason}: ${silent.refused.detail}); nothing has been taken in since ${localTime(silent.since)}, so it is not watched. See Readings refused on the dashboard: mend the device or its model, then take them in again.`;
  return `Nothing has been heard from this machine since ${localTime(silent.since)}${silentCause(silent.connection, silent.since)} It is not watched until it sends again; the readings above are the last it sent.`;
}

/** A line's status after "its line is": stopped, in changeover, in maintenance. */
const restingAs = (status: string) => (status === 'stopped' ? status : `in ${status}`);

/** The Workflows webhook's envelope around an Adaptive Card. */
const message = (card: Record<string, unknown>) => ({
  type: 'message',
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
});

const openDashboard = (url: string | undefined, path = '') => (url ? [{ type: 'Action.OpenUrl', title: 'Open in dashboard', url: `${url.replace(/\/$/, '')}/${path}` }] : []);

/**
 * One card for the incidents raised and over while Teams did not take cards: after an outage the
 * channel learns what it missed in one message, not one stale "cleared" card per incident.
 */
export function summaryCard(summary: AlertSummary): Record<string, unknown> {
  const n = summary.incidents.length;
  const facts = summary.incidents.map((a) => ({
    title: `${a.severity === 'critical' ? 'CRITICAL' : 'Warning'} ${a.deviceId}`,
    value: `${a.equipmentType}${a.line ? ` on ${a.line}` : ''}: raised ${utcTime(a.incident.raisedAt)}, cleared ${utcTime(a.time)}${a.condition ? `. ${CONDITIONS[a.condition]}` : ''}`,
  }));
  return message({
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    msteams: { width: 'Full' },
    body: [
      { type: 'TextBlock', size: 'Large', weight: 'Bolder', color: 'Warning', text: `Missed while Teams was not taking cards: ${n} incident${n === 1 ? '' : 's'}, raised and over`, wrap: true },
      { type: 'TextBlock', text: `Their cards were kept from ${localTime(summary.keptFrom)} to ${localTime(summary.keptTo)} and are told here in one message: each incident was raised and had cleared before Teams answered again. Each is on the dashboard with its readings; check the equipment named.`, wrap: true },
      { type: 'FactSet', facts },
    ],
    actions: openDashboard(summary.incidents.find((a) => a.dashboardUrl)?.dashboardUrl),
  });
}

/** A stop's own card is headed by its outcome (a dry run has none: it tells nobody). */
const stopHeadingOf = (outcome: string): string | undefined =>
  outcome === 'executed' ? 'STOPPED AUTOMATICALLY' : outcome === 'failed' ? 'AUTOMATIC STOP FAILED' : outcome === 'blocked' ? 'AUTOMATIC STOP HELD BACK' : undefined;

export function alertCard(alert: Alert): Record<string, unknown> {
  const critical = alert.severity === 'critical';
  const step = alert.incident.event;
  // A diagnostic alarm is about the sensors that stopped measuring, not those that carried evidence.
  const topSensors: readonly string[] = alert.notMeasured?.sensors ?? driversOf(alert.contributions);
  const readingFacts = Object.entries(alert.readings)
    .slice(0, MAX_FACTS)
    .map(([name, value]) => ({ title: name, value: formatValue(value, unitSymbol(Object.hasOwn(alert.units, name) ? alert.units[name] : undefined)) }));
  const stop = alert.action;
  // Cleared by the communication watch because the machine is quiet on a line at rest: no reading behind it.
  const rest = alert.lineAtRest;
  const restCleared = step === 'cleared' && rest !== undefined;
  const action =
    stop?.outcome === 'executed' ? 'The equipment was stopped automatically (emergencyStop). Dispatch maintenance; check the sensors named above before restarting.'
    : stop?.outcome === 'failed' ? 'The automatic emergencyStop FAILED: stop the equipment by hand now and dispatch maintenance.'
    : stop?.outcome === 'blocked' ? 'An automatic stop was due but held back by the stop rate limit: decide now whether to stop the equipment.'
    : restCleared ? `Its line is ${restingAs(rest.status)}: the machine is not expected to send, so its silence is not alarmed until the line runs again. Check it before the line restarts.`
    : step === 'cleared' ? 'The readings are back to normal. Close the incident once maintenance has checked the equipment.'
    // Its incident stood on its readings when it fell silent: the silence may be the failure itself.
    : step === 'silent' && alert.silent ? `${critical ? 'Its incident is critical: check the machine in person now, and stop it safely if it still runs.' : 'Check the machine in person: it may have failed.'} ${silentAction(alert.silent)}`
    : critical ? 'Stop the equipment safely and dispatch maintenance now; check the sensors named above first.'
    : alert.silent ? silentAction(alert.silent)
    : alert.notMeasured ? `Check the sensors named above (the probe, its wiring, the gateway's tag): not measured since ${localTime(alert.notMeasured.since)}, so the machine is not watched on them until they measure again.`
    : 'Inspect the equipment at the next opportunity and watch the trend on the dashboard.';
  // Teams writes these in the reader's own time zone and language (Adaptive Cards' DATE and TIME, in text blocks).
  const since = localTime(alert.incident.raisedAt);
  // The stop's own card, during an incident people were told of as critical already: headed by
  // what the stop did, so it is not read as a second escalation of the same incident.
  const stopHeading = alert.incident.stopOnly && stop ? stopHeadingOf(stop.outcome) : undefined;
  const subtitle =
    // Not "told before": kept while Teams was down, an incident's newest card may go out alone.
    stopHeading ? `During the critical incident raised ${since}: this card says what the automatic stop did.`
    : alert.incident.delayed && step === 'raised' ? `Standing since ${since}: its readings reached us late (telemetry was held up), so it is told only now.`
    : alert.incident.delayed && step === 'escalated' ? `Escalated while telemetry was held up: the incident raised ${since} got worse and still stands. Escalate to the maintenance lead.`
    : step === 'escalated' ? `Escalated: the incident raised ${since} got worse. Escalate to the maintenance lead.`
    : step === 'silent' ? `Gone silent during the incident raised ${since}: nothing watches the machine now.`
    : restCleared ? `Cleared: the incident raised ${since} is over, its line set to ${rest.status}${rest.since === undefined ? '' : ` at ${localTime(rest.since)}`}.`
    : step === 'cleared' ? `Cleared: the incident raised ${since} is over.`
    : alert.incident.reopened ? 'The condition is back minutes after it cleared (the same incident, reopened).'
    // The first card of an incident that stood untold (held back by flood suppression, or raised on late readings) says since when.
    : step === 'raised' && alert.incident.raisedAt < alert.time - 60_000 ? `Standing since ${since}: this is the first card about it.`
    : undefined;
  const heading =
    step === 'cleared' ? 'CLEARED'
    : step === 'silent' ? `SILENT during a ${critical ? 'CRITICAL' : 'Warning'} incident`
    : stopHeading ? `${stopHeading} during a CRITICAL incident`
    : `${step === 'escalated' ? 'ESCALATED ' : ''}${critical ? 'CRITICAL' : 'Warning'}`;
  const card = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    msteams: { width: 'Full' },
    body: [
      {
        type: 'TextBlock',
        size: 'Large',
        weight: 'Bolder',
        color: step === 'cleared' ? 'Good' : critical ? 'Attention' : 'Warning',
        text: `${heading}: ${alert.equipmentType} ${alert.deviceId}${alert.line ? ` on ${alert.line}` : ''}`,
        wrap: true,
      },
      ...(subtitle ? [{ type: 'TextBlock', text: subtitle, wrap: true, weight: 'Bolder' }] : []),
      // Raised while its line rests: likely a test run by the crew working on the line, who should hear of it first.
      ...(rest && step !== 'cleared' ? [{ type: 'TextBlock', text: `Its line is ${restingAs(rest.status)}${rest.since === undefined ? '' : ` (set ${localTime(rest.since)})`}: the machine may be running for a test; tell the crew working on the line.`, wrap: true }] : []),
      // A card that waited for Teams says so, so nobody takes an old incident for a new one.
      ...(alert.late ? [{ type: 'TextBlock', text: `Delivered late: Teams did not take this card at ${localTime(alert.late.keptAt)}; it was kept and sent once Teams answered again.`, wrap: true, color: 'Warning' }] : []),
      {
        type: 'FactSet',
        facts: [
          // A silence, or a clear by the line's status, has no reading to score.
          ...(alert.silent || restCleared ? [] : [{ title: 'Anomaly score', value: alert.anomalyScore.toFixed(2) }]),
          ...(alert.failureProbability === undefined ? [] : [{ title: 'Failure probability', value: `${Math.round(alert.failureProbability * 100)} %` }]),
          ...(alert.line ? [{ title: 'Line', value: rest ? `${alert.line} (${rest.status})` : alert.line }] : []),
          ...(stop ? [{ title: 'emergencyStop', value: `${stop.outcome}: ${stop.detail}` }] : []),
          { title: 'Time', value: utcTime(alert.time) },
          ...(alert.condition && step !== 'cleared' ? [{ title: 'Condition', value: CONDITIONS[alert.condition] }] : []),
          ...(topSensors.length ? [{ title: 'Driven by', value: topSensors.join(', ') }] : []),
          { title: 'Model', value: alert.modelVersion },
        ],
      },
      { type: 'TextBlock', text: alert.silent || restCleared ? 'Last readings' : 'Readings', weight: 'Bolder', spacing: 'Medium' },
      { type: 'FactSet', facts: readingFacts },
      { type: 'TextBlock', text: action, wrap: true },
      { type: 'TextBlock', text: `Incident ${alert.incident.id}`, isSubtle: true, size: 'Small', wrap: true },
    ],
    actions: openDashboard(alert.dashboardUrl, `#/equipment/${encodeURIComponent(alert.deviceId)}`),
  };
  return message(card);
}
