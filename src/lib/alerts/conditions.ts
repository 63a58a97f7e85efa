/**
 * What the detector saw in the reading that raised or escalated an incident (and which sensors
 * carried it), for the people who read about it: the Teams card, the dashboard's incident list and the AlarmEvents table (whose
 * Detail carries it, so no table changes shape for it).
 */
import type { DetectionKind } from '../anomaly/streaming-detector.ts';

export type Condition = Exclude<DetectionKind, 'normal'>;

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

/** An AlarmEvents row's Detail: space-separated tokens, `condition=<kind>` and `reopened`, each when it applies. */
export function eventDetail(condition: Condition | undefined, reopened: boolean | undefined): string {
  return [condition ? `condition=${condition}` : '', reopened ? 'reopened' : ''].filter(Boolean).join(' ');
}

/** The condition a Detail names, if it names one we know (the table is read back as untrusted text). */
export function conditionOfDetail(detail: string | null | undefined): Condition | undefined {
  const name = /(?:^|\s)condition=(\w+)/.exec(detail ?? '')?.[1];
  return name !== undefined && Object.hasOwn(CONDITIONS, name) ? (name as Condition) : undefined;
}
