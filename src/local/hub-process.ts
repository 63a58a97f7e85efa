/**
 * The local IoT Hub as its own service, with its built-in Event Hubs-compatible endpoint, as in
 * Azure: MQTT over TLS for devices and the service API (one port), device telemetry routed into
 * the durable event log, and that log served over AMQP as the Event Hub `telemetry`. With
 * --storage it also watches the log's retention against the trigger's checkpoints.
 *
 *   tsx src/local/hub-process.ts --data .data [--port 8883] [--eventhubs-port 5672] [--storage <connection string>]
 *
 * Prints one JSON line once listening: hostName, caFile, eventHubs (a connection string).
 */
import { join } from 'node:path';
import { numberOption, parseCommandLine, portOption } from '../lib/command-line.ts';
import { EventLog } from '../emulators/event-log/event-log.ts';
import { startIotHub } from '../emulators/iothub/server.ts';
import { startEventHubs } from '../emulators/event-hubs/server.ts';
import { jsonLogger } from '../lib/log.ts';
import { watchRetention, type RetentionWatch } from './retention.ts';
import { exitOnSignal } from './service-process.ts';

const USAGE = 'usage: tsx src/local/hub-process.ts [--data .data] [--port 8883] [--eventhubs-port 5672] [--storage <connection string>] [--partitions 4]';
const { values } = parseCommandLine(USAGE, {
  options: {
    data: { type: 'string', default: '.data' },
    port: { type: 'string', default: '8883' },
    'eventhubs-port': { type: 'string', default: '5672' },
    storage: { type: 'string' },
    partitions: { type: 'string', default: '4' },
  },
});
const logger = jsonLogger('hub', (process.env.LOG_LEVEL as 'info' | undefined) ?? 'info');
const log = (line: string) => logger.log('warn', line);
const eventLog = EventLog.open(join(values.data, 'eventlog'), { partitions: numberOption(USAGE, 'partitions', values.partitions, { min: 1, max: 32, integer: true }) });
const hub = await startIotHub({ dataDir: join(values.data, 'iothub'), port: portOption(USAGE, 'port', values.port), endpoints: { events: eventLog }, log });
const eventHubs = await startEventHubs({ eventLog, hubName: 'telemetry', port: portOption(USAGE, 'eventhubs-port', values['eventhubs-port']), log });
const retention: RetentionWatch | undefined = values.storage ? await watchRetention({ eventLog, storage: values.storage, hubName: 'telemetry', consumerGroup: '$Default', logger }) : undefined;
process.stdout.write(`${JSON.stringify({ hostName: hub.hostName, caFile: hub.caFile, eventHubs: eventHubs.connectionString() })}\n`);

exitOnSignal(async () => {
  retention?.stop();
  await hub.close();
  await eventHubs.close();
  eventLog.close();
});
