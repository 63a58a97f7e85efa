/**
 * Equipment that degrades to failure, with known ground truth, for training and for
 * `npm run bench:detect`. Each run is one machine over days, one reading a minute by default:
 * its own baseline (machines differ: a normal temperature anywhere from 58 to 70 °C), the hall's
 * day/night temperature cycle (±2 °C), sensor noise, shift-to-shift load changes, rare sensor
 * glitches (one-reading spikes that are not wear) and, for a degrading machine, one failure mode
 * whose effect grows along a P-F curve from onset to failure (`wear^shape`: shape 1 is linear,
 * 3 stays quiet for most of the span and then runs away).
 */
import { gauss, rng } from './scenarios.ts';

export type FailureMode = 'bearingWear' | 'overheating' | 'hydraulicLeak' | 'beltSlip';
export type DegradingKind = 'RoboticArm' | 'Conveyor';

export const FAILURE_MODES: Readonly<Record<DegradingKind, readonly FailureMode[]>> = {
  RoboticArm: ['bearingWear', 'overheating', 'hydraulicLeak'],
  Conveyor: ['bearingWear', 'overheating', 'beltSlip'],
};

export interface RunPlan {
  deviceId: string;
  kind: DegradingKind;
  seed: number;
  /** Run length and reading period. */
  durationMs: number;
  periodMs: number;
  startTime: number;
  /** Absent for a healthy machine. */
  failure?: { mode: FailureMode; onsetTime: number; failureTime: number; shape: number };
}

export interface RunReading {
  time: number;
  features: Record<string, number>;
  status: 'running' | 'fault';
}

const SHIFT_MS = 8 * 3_600_000;

/** The readings of one run, oldest first; stops at the failure (the last reading reports fault). */
export function* runReadings(plan: RunPlan): Generator<RunReading> {
  const r = rng(plan.seed);
  // This machine's own normal: levels differ by a few units from machine to machine.
  const base = {
    temperature: 58 + 12 * r(),
    vibration: 0.4 + 0.2 * r(),
    pressure: 5.6 + 0.8 * r(),
    speed: 1.4 + 0.2 * r(),
    load: 230 + 40 * r(),
    motorTemperature: 52 + 14 * r(),
  };
  let shiftFactor = 1;
  let shift = -1;
  const end = plan.startTime + plan.durationMs;
  const f = plan.failure;
  for (let t = plan.startTime; t < end; t += plan.periodMs) {
    const s = Math.floor((t - plan.startTime) / SHIFT_MS);
    if (s !== shift) {
      shift = s;
      shiftFactor = 0.96 + 0.08 * r();
    }
    const failed = f !== undefined && t >= f.failureTime;
    const w = f && t >= f.onsetTime ? Math.min(1, (t - f.onsetTime) / (f.failureTime - f.onsetTime)) ** f.shape : 0;
    const mode = f?.mode;
    const glitch = r() < 0.003 ? 1 : 0;
    // The hall warms by day and cools by night.
    const ambient = 2 * Math.sin((2 * Math.PI * (t % 86_400_000)) / 86_400_000);
    const features: Record<string, number> = {};
    if (plan.kind === 'RoboticArm') {
      features.temperature = base.temperature * shiftFactor + ambient + 2.5 * gauss(r) + (mode === 'overheating' ? 33 * w : mode === 'bearingWear' ? 8 * w : 0) + glitch * 25;
      features.vibration = Math.max(0, base.vibration * shiftFactor + 0.08 * gauss(r) + (mode === 'bearingWear' ? 2.2 * w : mode === 'overheating' ? 0.2 * w : 0));
      features.pressure = base.pressure + 0.25 * gauss(r) - (mode === 'hydraulicLeak' ? 3 * w : 0);
    } else {
      features.speed = Math.max(0, base.speed + 0.08 * gauss(r) - (mode === 'beltSlip' ? 1.2 * w : 0));
      features.load = Math.max(0, base.load * shiftFactor + 25 * gauss(r));
      features.motorTemperature = base.motorTemperature * shiftFactor + ambient + 3 * gauss(r) + (mode === 'overheating' ? 42 * w : mode === 'beltSlip' ? 10 * w : mode === 'bearingWear' ? 6 * w : 0) + glitch * 30;
      features.vibration = Math.max(0, base.vibration * shiftFactor + 0.07 * gauss(r) + (mode === 'bearingWear' ? 2.3 * w : 0) + glitch * 1.5);
    }
    for (const k in features) features[k] = Math.round(features[k]! * 1000) / 1000;
    yield { time: t, features, status: failed ? 'fault' : 'running' };
    if (failed) return;
  }
}

export interface FleetOptions {
  seed: number;
  devices: number;
  /** Share of machines that degrade to failure. */
  failingShare: number;
  days: number;
  periodMs: number;
  startTime?: number;
}

/** A fixed-seed fleet: arms and conveyors alternating, failure modes and P-F shapes spread evenly. */
export function degradationFleet(options: FleetOptions): RunPlan[] {
  const r = rng(options.seed);
  const startTime = options.startTime ?? Date.UTC(2026, 0, 5);
  const durationMs = options.days * 86_400_000;
  const failing = Math.round(options.devices * options.failingShare);
  const shapes = [1, 2, 3];
  return Array.from({ length: options.devices }, (_, i): RunPlan => {
    const kind: DegradingKind = i % 2 === 0 ? 'RoboticArm' : 'Conveyor';
    const plan: RunPlan = { deviceId: `${kind === 'RoboticArm' ? 'arm' : 'conveyor'}-${String(i).padStart(3, '0')}`, kind, seed: Math.floor(r() * 2 ** 31), durationMs, periodMs: options.periodMs, startTime };
    if (i < failing) {
      const modes = FAILURE_MODES[kind];
      // Onset after at least two days of normal running; degradation spans one to four days.
      const onsetTime = startTime + (2 + r() * (options.days - 7)) * 86_400_000;
      const span = (1 + 3 * r()) * 86_400_000;
      plan.failure = { mode: modes[Math.floor(i / 2) % modes.length]!, onsetTime, failureTime: onsetTime + span, shape: shapes[Math.floor(i / 6) % shapes.length]! };
    }
    return plan;
  });
}
