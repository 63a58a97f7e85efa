/**
 * DTDL unit names as a plant engineer writes them ("degreeCelsius": "°C"), for the Teams cards and
 * (through the history API) the dashboard. A unit not listed is shown by its DTDL name.
 */
const SYMBOLS: ReadonlyMap<string, string> = new Map([
  ['degreeCelsius', '°C'], ['degreeFahrenheit', '°F'], ['kelvin', 'K'], ['gForce', 'g'], ['metrePerSecondSquared', 'm/s²'],
  ['bar', 'bar'], ['pascal', 'Pa'], ['kilopascal', 'kPa'], ['poundPerSquareInch', 'psi'], ['kilogram', 'kg'], ['gram', 'g'],
  ['tonne', 't'], ['metrePerSecond', 'm/s'], ['metrePerMinute', 'm/min'], ['revolutionPerMinute', 'rpm'], ['hertz', 'Hz'],
  ['percent', '%'], ['ampere', 'A'], ['volt', 'V'], ['watt', 'W'], ['kilowatt', 'kW'], ['newton', 'N'], ['newtonMetre', 'N·m'],
  ['millimetre', 'mm'], ['metre', 'm'], ['litrePerMinute', 'l/min'],
]);

/** The symbol of a DTDL unit ('' for none); a Map, so a unit name is never an inherited property. */
export function unitSymbol(unit: string | undefined): string {
  return unit === undefined ? '' : (SYMBOLS.get(unit) ?? unit);
}

/** A telemetry-to-unit table (DTDL names) as symbols; unitless telemetry stays out. */
export function unitSymbols(units: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, unit] of Object.entries(units)) if (unit !== undefined) out[name] = unitSymbol(unit);
  return out;
}
