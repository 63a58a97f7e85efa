/**
 * Operating envelopes of the plant's sensors, in the units the DTDL models declare. Domain
 * knowledge the models cannot carry: where "normal" ends and where the hard limit is. Used by the
 * built-in detector that keeps ingestion scoring when the ML endpoint cannot be reached.
 */
export interface Envelope {
  unit: string | undefined;
  normalLow?: number;
  normalHigh?: number;
  limitLow?: number;
  limitHigh?: number;
  /** Low readings are expected when the equipment is not running (a stopped conveyor has speed 0). */
  lowOnlyWhileRunning?: boolean;
}

export const OPERATING_ENVELOPES: Readonly<Record<string, Envelope>> = {
  temperature: { unit: 'degreeCelsius', normalLow: 5, normalHigh: 75, limitLow: -5, limitHigh: 95 },
  motorTemperature: { unit: 'degreeCelsius', normalHigh: 80, limitHigh: 100 },
  vibration: { unit: 'gForce', normalHigh: 1.0, limitHigh: 2.5 },
  pressure: { unit: 'bar', normalLow: 4.5, normalHigh: 7.5, limitLow: 3, limitHigh: 9, lowOnlyWhileRunning: true },
  speed: { unit: 'metrePerSecond', normalLow: 0.5, normalHigh: 2.5, limitLow: 0, limitHigh: 3.5, lowOnlyWhileRunning: true },
  load: { unit: 'kilogram', normalHigh: 400, limitHigh: 600 },
  defectRate: { unit: undefined, normalHigh: 0.05, limitHigh: 0.2 },
};
