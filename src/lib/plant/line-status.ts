/**
 * A production line's status as the plant sets it on the line's twin (`lineStatus` of
 * dtmi:manufacturing:ProductionLine;1). A line stopped, in changeover or in maintenance may have its
 * machines powered down, so their silence is expected: ISA-18.2's designed suppression by the
 * line's state, as the plant's working hours suppress it by the clock. When it runs again, a
 * silence counts from when it was set running (Digital Twins' own clock of that write), so its
 * machines have the alarm's delay to start sending. Readings are judged as always: a machine run
 * during maintenance that faults still raises.
 */
import type { TwinsPort } from '../ports.ts';
import { modelOf } from './plant.ts';
import { propertyUpdatedAt } from '../twins/twin-metadata.ts';

/** The statuses the line model declares (a test holds this list to the DTDL's enum). */
export const LINE_STATUSES = ['running', 'stopped', 'changeover', 'maintenance'] as const;
export type LineStatusValue = (typeof LINE_STATUSES)[number];

export const LINE_MODEL = modelOf('ProductionLine');

/** A line's status and when Digital Twins took it in (undefined: never set, or not said). */
export interface LineStatus {
  status: string | undefined;
  since: number | undefined;
}

/** The line's status as its twin holds it: a line whose status was never set is running. */
export function lineStatusOf(twin: Record<string, unknown>): LineStatus {
  const status = Object.hasOwn(twin, 'lineStatus') && typeof twin.lineStatus === 'string' ? twin.lineStatus : undefined;
  return { status, since: propertyUpdatedAt(twin, 'lineStatus') };
}

/** Stopped, in changeover or in maintenance: its machines may be quiet. An unknown status counts as running (watched). */
export function lineAtRest(line: LineStatus | undefined): boolean {
  return line?.status === 'stopped' || line?.status === 'changeover' || line?.status === 'maintenance';
}

/** When a running line was set running (a silence counts from then at the earliest); -Infinity when that is not known. */
export function runningSince(line: LineStatus | undefined): number {
  return line?.status === 'running' && line.since !== undefined ? line.since : -Infinity;
}

/** Every production line's status, by its twin id: one query, whatever the number of machines. */
export async function readLineStatuses(twins: Pick<TwinsPort, 'query'>): Promise<Map<string, LineStatus>> {
  const out = new Map<string, LineStatus>();
  let token: string | undefined;
  do {
    const page = await twins.query(`SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '${LINE_MODEL}')`, token);
    for (const twin of page.items) if (typeof twin.$dtId === 'string') out.set(twin.$dtId, lineStatusOf(twin));
    token = page.continuationToken;
  } while (token);
  return out;
}
