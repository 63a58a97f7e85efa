/**
 * The other half of the patch interval: a twin whose newest readings were held back (their twin
 * was patched less than an interval ago) and whose device then went quiet would keep older
 * values forever. This sweep, run by a timer, reads the newest stored reading of each recently
 * active device and patches every twin that is behind it. Same rules: If-Match, never backwards.
 */
import { isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import type { JsonPatchOp, TelemetryStorePort, TwinsPort } from './ports.ts';
import { forEachLimited } from './bounded-set.ts';
import type { TelemetryCatalog } from './telemetry/catalog.ts';
import { measuredValueOps } from './twins/twin-update.ts';

export interface TwinRefreshDeps {
  catalog: TelemetryCatalog;
  twins: TwinsPort;
  store: TelemetryStorePort;
  logger: Logger;
  lookbackMs: number;
  concurrency: number;
  now?: () => number;
}

export interface RefreshResult {
  devices: number;
  patched: number;
  upToDate: number;
  errors: number;
}

export async function refreshTwins(deps: TwinRefreshDeps): Promise<RefreshResult> {
  const now = (deps.now ?? Date.now)();
  const latest = await deps.store.latestReadings(now - deps.lookbackMs);
  const states = latest.length ? await deps.twins.getStates(latest.map((l) => l.deviceId)) : new Map();
  const result: RefreshResult = { devices: latest.length, patched: 0, upToDate: 0, errors: 0 };
  await forEachLimited(latest, deps.concurrency, async (l) => {
    let state = states.get(l.deviceId) ?? (await deps.twins.getState(l.deviceId));
    for (let attempt = 0; state && attempt < 3; attempt++) {
      if (state.lastTelemetryTime !== undefined && state.lastTelemetryTime >= l.time) {
        result.upToDate++;
        return;
      }
      const props = deps.catalog.models.get(state.modelId)?.properties;
      const kind = deps.catalog.forTwinModel(state.modelId);
      if (!props || !kind) return;
      const ops: JsonPatchOp[] = [];
      for (const name of kind.telemetryNames) {
        // A value not measured (null) leaves the one last measured, as the pipeline does.
        if (props.has(name) && l.readings[name] !== undefined && l.readings[name] !== null) ops.push(...measuredValueOps(name, l.readings[name], l.time));
      }
      // With when IoT Hub took it in, as the pipeline writes it: the silence counts from then, not from this sweep (heardAt).
      ops.push(...(l.enqueuedTime === undefined ? [{ op: 'add' as const, path: '/lastTelemetryTime', value: new Date(l.time).toISOString() }] : measuredValueOps('lastTelemetryTime', new Date(l.time).toISOString(), l.enqueuedTime)));
      try {
        await deps.twins.patch(l.deviceId, ops, state.etag);
        result.patched++;
        return;
      } catch (error) {
        if (isAppError(error) && error.code === 'twin.etagMismatch') {
          state = await deps.twins.getState(l.deviceId);
          continue;
        }
        if (isAppError(error) && error.retryable) throw error;
        result.errors++;
        deps.logger.log('error', 'twin refresh patch refused', { deviceId: l.deviceId, error: (error as Error).message });
        return;
      }
    }
  });
  return result;
}
