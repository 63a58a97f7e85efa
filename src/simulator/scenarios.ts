/**
 * What simulated equipment reports. Each scenario depends only on the device's own random stream
 * and the times it is sampled at, so a run can be replayed from its seed. The recipe's robotic arm and conveyor
 * (normal readings, 5 % injected anomalies); a quality station; degradation to failure, where
 * sensors drift from normal to past their limits between a known onset and failure time; and, on
 * request, shifts: the equipment stops (and says so) between runs, cools at rest and warms again
 * after each start, as a plant's machines do between shifts and over breaks; and, on request, a
 * probe that stops answering (its value sent as null), as a broken thermocouple does.
 */
import type { EquipmentKind, PlantEquipment } from '../lib/plant/plant.ts';

export type Rng = () => number;

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A standard normal draw from `r` (Box–Muller). */
export const gauss = (r: Rng) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const normal = (r: Rng, mean: number, sd: number) => mean + sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const between = (r: Rng, lo: number, hi: number) => lo + (hi - lo) * r();
const round = (v: number, digits = 2) => Number(v.toFixed(digits));

export interface Sample {
  body: Record<string, unknown>;
  /** Ground truth: this reading was made anomalous on purpose. */
  anomaly: boolean;
}

export interface DegradationPlan {
  /** Seconds after the device starts when wear begins. */
  onsetSeconds: number;
  /** Seconds after the device starts when it fails (reports fault and stops). */
  failureSeconds: number;
}

/** Runs and rests in turn, from the device's start: running for `runSeconds`, then stopped for `restSeconds`. */
export interface ShiftPlan {
  runSeconds: number;
  restSeconds: number;
}

/** A probe that stops answering: from `fromSeconds` after the device's start (until `toSeconds`, if given) its gateway sends the sensor as null. */
export interface ProbeFailure {
  sensor: string;
  fromSeconds: number;
  toSeconds?: number;
}

/** A device that sends nothing (its gateway lost its network or its power): from `fromSeconds` after its start, until `toSeconds` if given. */
export interface Silence {
  fromSeconds: number;
  toSeconds?: number;
}

/** Whether `silence` stands at `t` (seconds after the start). */
export const isSilent = (silence: Silence | undefined, t: number): boolean => silence !== undefined && t >= silence.fromSeconds && (silence.toSeconds === undefined || t < silence.toSeconds);

/** Why a device cannot fall silent in this plant (it has no such device), or undefined when it can. */
export function silenceProblem(equipment: readonly PlantEquipment[], deviceId: string): string | undefined {
  return equipment.some((e) => e.id === deviceId) ? undefined : `no device '${deviceId}' in the plant`;
}

/** The sensors a kind's samples carry as numbers: what a probe failure may name. */
export function sensorsOf(kind: EquipmentKind): string[] {
  const { body } = sample(newState(kind, 1), 0);
  return Object.keys(body).filter((k) => typeof body[k] === 'number');
}

/** Why a probe failure cannot happen in this plant (no such device, or it sends no such sensor), or undefined when it can. */
export function probeFailureProblem(equipment: readonly PlantEquipment[], deviceId: string, sensor: string): string | undefined {
  const device = equipment.find((e) => e.id === deviceId);
  if (!device) return silenceProblem(equipment, deviceId);
  const sensors = sensorsOf(device.kind);
  return sensors.includes(sensor) ? undefined : `${deviceId} sends ${sensors.join(', ')}, not '${sensor}'`;
}

/** The sample as the gateway sends it while `failure` stands at `t` (seconds after the start): the sensor as null, not measured. */
export function withProbeFailure(s: Sample, failure: ProbeFailure | undefined, t: number): Sample {
  if (!failure || t < failure.fromSeconds || (failure.toSeconds !== undefined && t >= failure.toSeconds) || !Object.hasOwn(s.body, failure.sensor)) return s;
  return { ...s, body: { ...s.body, [failure.sensor]: null } };
}

export interface ScenarioState {
  kind: EquipmentKind;
  r: Rng;
  anomalyRate: number;
  degradation: DegradationPlan | undefined;
  shift: ShiftPlan | undefined;
  /** How far the equipment is warmed to its working temperature (1: fully, 0: at the ambient), and when it last reported (s). */
  heat: number;
  lastT: number | undefined;
  cycleCount: number;
  inspections: number;
  defects: number;
}

export function newState(kind: EquipmentKind, seed: number, anomalyRate = 0.05, degradation?: DegradationPlan, shift?: ShiftPlan): ScenarioState {
  return { kind, r: rng(seed), anomalyRate, degradation, shift, heat: 1, lastT: undefined, cycleCount: 0, inspections: 0, defects: 0 };
}

const AMBIENT_C = 25;
/** Time constants (s): a machine reaches its working temperature within a couple of minutes of a start and cools over a few more at rest. */
const WARM_S = 40;
const COOL_S = 120;

/** Whether the equipment is between runs at `t`, and (updated) how warm it is. */
function rests(s: ScenarioState, t: number): boolean {
  const plan = s.shift;
  if (!plan) return false;
  const resting = t % (plan.runSeconds + plan.restSeconds) >= plan.runSeconds;
  const dt = s.lastT === undefined ? 0 : Math.max(0, t - s.lastT);
  s.lastT = t;
  s.heat += ((resting ? 0 : 1) - s.heat) * (1 - Math.exp(-dt / (resting ? COOL_S : WARM_S)));
  return resting;
}

/** A working temperature `x` as it reads `heat` of the way from the ambient. */
const warmed = (s: ScenarioState, x: number) => (s.heat === 1 ? x : AMBIENT_C + (x - AMBIENT_C) * s.heat);

/** Wear in [0, 1]: 0 before onset, 1 at failure. */
function wear(s: ScenarioState, t: number): number {
  const d = s.degradation;
  if (!d || t < d.onsetSeconds) return 0;
  return Math.min(1, (t - d.onsetSeconds) / (d.failureSeconds - d.onsetSeconds));
}

/** The next reading at `t` seconds after start. */
export function sample(s: ScenarioState, t: number): Sample {
  const r = s.r;
  const w = wear(s, t);
  const failed = s.degradation !== undefined && t >= s.degradation.failureSeconds;
  if (rests(s, t) && !failed) return { anomaly: false, body: atRest(s, w) };
  const anomaly = w === 0 && r() < s.anomalyRate;
  const status = failed ? 'fault' : 'running';
  switch (s.kind) {
    case 'RoboticArm': {
      s.cycleCount += failed ? 0 : 1;
      const temperature = anomaly ? between(r, 82, 96) : warmed(s, normal(r, 65, 3) + w * 34);
      const vibration = anomaly ? between(r, 1.5, 2.4) : Math.max(0, normal(r, 0.5, 0.1)) + w * 2.2;
      return { anomaly, body: { temperature: round(temperature), vibration: round(vibration, 3), pressure: round(normal(r, 6, 0.3) - w * 1.5), cycleCount: s.cycleCount, status } };
    }
    case 'Conveyor': {
      const motorTemperature = anomaly ? between(r, 86, 98) : warmed(s, normal(r, 60, 4) + w * 42);
      const vibration = anomaly ? between(r, 1.4, 2.4) : Math.max(0, normal(r, 0.4, 0.08)) + w * 2.3;
      return { anomaly, body: { speed: round(failed ? 0 : Math.max(0, normal(r, 1.5, 0.1) - w * 0.6)), load: round(Math.max(0, normal(r, 250, 30))), motorTemperature: round(motorTemperature), vibration: round(vibration, 3), status } };
    }
    case 'QualityStation': {
      const n = 10;
      const rate = anomaly ? between(r, 0.12, 0.3) : Math.max(0, normal(r, 0.02, 0.008)) + w * 0.25;
      const defects = Math.round(n * rate);
      s.inspections += n;
      s.defects += defects;
      return { anomaly, body: { inspections: s.inspections, defects: s.defects, defectRate: round(rate, 4), temperature: round(normal(r, 24, 1)), status } };
    }
  }
}

/** A reading of stopped equipment: nothing moves, nothing is inspected, and it cools toward the ambient. */
function atRest(s: ScenarioState, w: number): Record<string, unknown> {
  const r = s.r;
  const still = () => round(Math.max(0, normal(r, 0.01, 0.005)), 3);
  switch (s.kind) {
    case 'RoboticArm':
      return { temperature: round(warmed(s, normal(r, 65, 1) + w * 34)), vibration: still(), pressure: round(Math.max(0, normal(r, 0.05, 0.02))), cycleCount: s.cycleCount, status: 'stopped' };
    case 'Conveyor':
      return { speed: 0, load: 0, motorTemperature: round(warmed(s, normal(r, 60, 1) + w * 42)), vibration: still(), status: 'stopped' };
    case 'QualityStation':
      return { inspections: s.inspections, defects: s.defects, defectRate: 0, temperature: round(normal(r, 24, 1)), status: 'stopped' };
  }
}
