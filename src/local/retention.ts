/**
 * The event log keeps events 24 hours, as Event Hubs does, and drops older ones whether or not
 * they were read. This says so when it drops events the trigger's consumer group had not
 * checkpointed past, reading the checkpoints where the consumers keep them (blobs in Azurite).
 */
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import type { EventLog } from '../emulators/event-log/event-log.ts';
import type { Logger } from '../lib/log.ts';

export interface RetentionWatch {
  /** One pass now (also run at start and every hour). */
  enforce(): Promise<void>;
  stop(): void;
}

export async function watchRetention(options: { eventLog: EventLog; storage: string; hubName: string; consumerGroup: string; logger: Logger }): Promise<RetentionWatch> {
  const { eventLog, logger, consumerGroup } = options;
  const checkpoints = new BlobCheckpointStore(new ContainerClient(options.storage, 'azure-webjobs-eventhub'));
  const enforce = async () => {
    // The namespace the SDK records is the endpoint's host name (localhost).
    const list = await checkpoints.listCheckpoints('localhost', options.hubName, consumerGroup).catch(() => []);
    const report = eventLog.enforceRetention({ [consumerGroup]: Object.fromEntries(list.map((c) => [c.partitionId, c.sequenceNumber])) });
    for (const d of report.dropped) {
      for (const u of d.unread) logger.log('warn', 'event log retention dropped events a consumer group had not read', { partitionId: d.partitionId, consumerGroup: u.consumerGroup, unread: u.count, fromSequence: d.fromSequence, toSequence: d.toSequence });
    }
  };
  await enforce();
  const timer = setInterval(() => void enforce().catch((e: Error) => logger.log('error', 'event log retention failed', { error: e.message })), 3600_000);
  timer.unref();
  return { enforce, stop: () => clearInterval(timer) };
}
