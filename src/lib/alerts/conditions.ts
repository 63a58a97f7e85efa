/**
 * What the detector saw in the reading that raised or escalated an incident (and which sensors
 * carried it), for the people who read about it: the Teams card, the dashboard's incident list and the AlarmEvents table (whose
 * Detail carries it, so no table changes shape for it).
 */
import type { DetectionKind } from '../anomaly/streaming-detector.ts';
import type { DeviceConnection } from '../ports.ts';

/**
 * What the detector saw, or what the lifecycle raised without it: `notMeasured`, sensors stopped
 * measuring (a diagnostic alarm); `silent`, the equipment sent nothing at all (communication loss).
 */
export type Condition = Exclude<DetectionKind, 'normal'> | 'notMeasured' | 'silent';

/** Each condition as the person on shift reads it. */
export const CONDITIONS: Readonly<Record<Condition, string>> = Object.freeze({
  spike: 'readings far from normal',
  shift: 'several sensors off their normal level together',
  novel: 'a pattern or value not seen before',
  daily: 'unusual for the hour of the day',
  quiet: "a sensor's usual transients have stopped",
  burst: 'transients far more often than usual',
  pattern: 'sensors that move together have come apart',
  drift: 'drifting toward its failure limit',
  stuck: 'a sensor stuck on one value',
  envelope: 'outside its operating envelope',
  fault: 'the controller reports a fault',
  notMeasured: 'a sensor has stopped measuring: the machine is not watched on it',
  silent: 'no telemetry taken in: the machine is not watched at all',
});

/** The sensors that carried the evidence, largest share first: the three the card and the dashboard name. */
export function driversOf(contributions: Readonly<Record<string, number>>): string[] {
  return Object.entries(contributions)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name]) => name);
}

/** The condition of a detection, or undefined when nothing stood out (a failure prediction alone). */
export function conditionOf(kind: DetectionKind | undefined): Condition | undefined {
  return kind === undefined || kind === 'normal' ? undefined : kind;
}

/** The scores of the reading behind an incident's step (a raise or an escalation). */
export interface StepFigures {
  anomalyScore: number;
  /** Null when nothing predicted failure (the ML endpoint unreachable, say). */
  failureProbability: number | null;
}

/**
 * An AlarmEvents row's Detail: space-separated tokens, each when it applies: `condition=<kind>`,
 * `reopened`, the sensors not measured of a diagnostic alarm (`sensors=a,b`), and the reading's
 * `score=` and `failure=` (so the dashboard can show an incident as it stood at its latest raise or
 * escalation, not only as it was raised, without a schema change).
 */
export function eventDetail(condition: Condition | undefined, reopened: boolean | undefined, figures?: StepFigures, sensors?: readonly string[]): string {
  return [
    condition ? `condition=${condition}` : '',
    reopened ? 'reopened' : '',
    sensors?.length ? `sensors=${sensors.join(',')}` : '',
    figures ? `score=${fourPlaces(figures.anomalyScore)}` : '',
    figures && figures.failureProbability !== null ? `failure=${fourPlaces(figures.failureProbability)}` : '',
  ].filter(Boolean).join(' ');
}

const fourPlaces = (x: number) => String(Math.round(Math.min(1, Math.max(0, x)) * 10_000) / 10_000);

const FRACTION_TOKENS = { score: /(?:^|\s)score=(\d+(?:\.\d+)?)(?=\s|$)/, failure: /(?:^|\s)failure=(\d+(?:\.\d+)?)(?=\s|$)/ } as const;

/** A fraction a Detail token holds: plain decimal digits within [0, 1] (the table is read back as untrusted text). */
function fractionOf(detail: string, name: keyof typeof FRACTION_TOKENS): number | undefined {
  const text = FRACTION_TOKENS[name].exec(detail)?.[1];
  const x = text === undefined ? NaN : Number(text);
  return x >= 0 && x <= 1 ? x : undefined;
}

/** The figures a Detail carries, or undefined when it carries none (a step written before they were, or a clear). */
export function figuresOfDetail(detail: string | null | undefined): StepFigures | undefined {
  const anomalyScore = fractionOf(detail ?? '', 'score');
  return anomalyScore === undefined ? undefined : { anomalyScore, failureProbability: fractionOf(detail ?? '', 'failure') ?? null };
}

/** The sensors a diagnostic alarm's Detail names (DTDL names: letters, digits, underscores), at most eight. */
export function sensorsOfDetail(detail: string | null | undefined): string[] | undefined {
  const list = /(?:^|\s)sensors=(\w{1,64}(?:,\w{1,64}){0,7})(?=\s|$)/.exec(detail ?? '')?.[1];
  return list === undefined ? undefined : list.split(',');
}

/** A clear's Detail when its incident cleared because the machine fell quiet on a line at rest (`status`: the line's). */
export const lineAtRestDetail = (status: string): string => `lineAtRest=${status}`;

/** The line's status a clear's Detail names (stopped, changeover, maintenance), if it names one (read back as untrusted text). */
export function lineAtRestOfDetail(detail: string | null | undefined): string | undefined {
  return /(?:^|\s)lineAtRest=(stopped|changeover|maintenance)(?=\s|$)/.exec(detail ?? '')?.[1];
}

/** What IoT Hub said of a silent machine's device when its incident was raised, as a raise's Detail token. */
export type DeviceLink = 'disconnected' | 'connected' | 'disabled' | 'unregistered';

export function deviceLinkOf(c: Pick<DeviceConnection, 'identity' | 'connected'> | undefined): DeviceLink | undefined {
  if (!c) return undefined;
  if (c.identity !== 'enabled') return c.identity;
  return c.connected === undefined ? undefined : c.connected ? 'connected' : 'disconnected';
}

export const deviceLinkDetail = (link: DeviceLink): string => `device=${link}`;

/** The device's link a Detail names, if it names one (read back as untrusted text). */
export function deviceLinkOfDetail(detail: string | null | undefined): DeviceLink | undefined {
  return /(?:^|\s)device=(disconnected|connected|disabled|unregistered)(?=\s|$)/.exec(detail ?? '')?.[1] as DeviceLink | undefined;
}

/** How the incident list says it, after the condition's own words. */
export const DEVICE_LINKS: Readonly<Record<DeviceLink, string>> = Object.freeze({
  disconnected: 'IoT Hub saw its device disconnect',
  connected: 'IoT Hub counts its device as connected: online and sending nothing',
  disabled: 'its IoT Hub identity is disabled',
  unregistered: 'IoT Hub has no identity for its device',
});

/** The condition a Detail names, if it names one we know (the table is read back as untrusted text). */
export function conditionOfDetail(detail: string | null | undefined): Condition | undefined {
  const name = /(?:^|\s)condition=(\w+)/.exec(detail ?? '')?.[1];
  return name !== undefined && Object.hasOwn(CONDITIONS, name) ? (name as Condition) : undefined;
}
