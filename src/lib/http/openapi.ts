/**
 * The API's OpenAPI 3.1 document, served at /api/openapi.json. Request bodies come from the same
 * zod schemas the handlers check with; every route in HTTP_ROUTES has an entry (a test checks).
 */
import { z } from 'zod';
import { queryBody } from './twin-api.ts';
import { ackBody, lineStatusBody, shelveBody } from './plant-api.ts';

const problem = { $ref: '#/components/schemas/Problem' };
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: { 400: 'Invalid request', 401: 'Missing or wrong function key', 404: 'Not found', 409: 'Conflict', 413: 'Body too large', 415: 'Not JSON', 502: 'A dependency refused', 503: 'A dependency is unavailable' }[c] ?? 'Error', content: { 'application/problem+json': { schema: problem } } }]));
const ok = (description: string, schema: object = { type: 'object' }) => ({ '200': { description, content: { 'application/json': { schema } } } });
const id = (what: string) => ({ name: 'id', in: 'path', required: true, description: what, schema: { type: 'string', maxLength: 256 } });
const keyed = [{ functionKey: [] }, { functionKeyQuery: [] }];
const jsonBody = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input' }) } } });

/** Operation by route name (HTTP_ROUTES). */
export const OPERATIONS: Record<string, { path: string; method: 'get' | 'post'; operation: Record<string, unknown> }> = {
  twinQuery: { path: '/twins/query', method: 'post', operation: { summary: 'Query twins with the Azure Digital Twins query language', requestBody: jsonBody(queryBody), responses: { ...ok('A page of results', { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } }, continuationToken: { type: ['string', 'null'] } } }), ...errors(400, 401, 413, 415, 502, 503) } } },
  twinGet: { path: '/twins/{id}', method: 'get', operation: { summary: 'One twin with $etag and $metadata', parameters: [id('twin id')], responses: { ...ok('The twin'), ...errors(400, 401, 404, 503) } } },
  twinRelationships: { path: '/twins/{id}/relationships', method: 'get', operation: { summary: "A twin's outgoing and incoming relationships", parameters: [id('twin id')], responses: { ...ok('Edges of the twin graph'), ...errors(400, 401, 404, 503) } } },
  health: { path: '/health', method: 'get', operation: { summary: 'Whether Digital Twins answers', security: [], responses: { ...ok('Healthy'), '503': { description: 'Degraded' } } } },
  plant: { path: '/plant', method: 'get', operation: { summary: 'Factories → lines → equipment, with health and latest readings', responses: { ...ok('The plant graph'), ...errors(401, 503) } } },
  equipmentHistory: {
    path: '/equipment/{id}/history',
    method: 'get',
    operation: {
      summary: "An equipment's stored telemetry over a range, bucketed with avg/min/max per reading, the highest anomaly score and failure probability, and the number of anomalous readings; with the model's measured telemetry and its units (DTDL unit names)",
      parameters: [
        id('equipment (twin) id'),
        { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: an hour before `to`' },
        { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: now' },
        { name: 'bucket', in: 'query', schema: { type: 'string', enum: ['auto', 'raw', '10s', '1m', '5m', '15m', '1h', '1d'], default: 'auto' }, description: 'auto keeps the answer under ~500 buckets; at most 31 days and 5,000 readings' },
      ],
      responses: { ...ok('Buckets, oldest first'), ...errors(400, 401, 404, 503) },
    },
  },
  alertList: { path: '/alerts', method: 'get', operation: { summary: 'Incidents, newest first, with priority, state (and, when the line status cleared it, that status: clearedAtRest), acknowledgement, the condition the detector saw (for a silent machine, with what IoT Hub said of its device: deviceLink) and the scores at the latest raise or escalation, and the automated stop decided during it', parameters: [{ name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: 7 days ago' }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 }, description: 'at most API_MAX_PAGE_SIZE' }], responses: { ...ok('Alerts (items), and the alert cards still waiting for Teams (undelivered: waiting, oldest, error; Teams down or refusing)'), ...errors(400, 401, 503) } } },
  alarmPerformance: { path: '/alarms/performance', method: 'get', operation: { summary: 'How the alarm system performs over a period, as ISA-18.2 and EEMUA 191 measure it for one operating position: alarms (raises and escalations with a Teams card) per 10 minutes and per day, the busiest 10 minutes, the share of 10-minute periods in flood (more than 10) and of hours with more than 30 alarms, priorities, what flood suppression, shelving and late readings withheld, the top sources, chattering and stale alarms, each against the standards\' targets; and how people answered (incidents acknowledged and cleared, and how long after their first card)', parameters: [{ name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: 7 days before to' }, { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: now; at most 31 days after from' }, { name: 'line', in: 'query', schema: { type: 'string' }, description: "a production line's twin id: the figures of its equipment only (its operator's load); default the whole plant" }], responses: { ...ok('The figures (alarms, per10Min, perDay, peak, flood, busyHours, priorities, withheld, topSources, chattering, stale, response; the rates and the periods counted begin at ratedFrom, the period\'s first reading when the plant was first heard from within it), their verdicts against the targets, the line and its equipment when asked for one, and truncated when the period held more events than are read'), ...errors(400, 401, 404, 503) } } },
  equipmentShelve: { path: '/equipment/{id}/shelve', method: 'post', operation: { summary: "Shelve an equipment's alarm notifications for some minutes (recorded as usual, nobody told); 0 unshelves", parameters: [id('equipment id')], requestBody: jsonBody(shelveBody), responses: { ...ok('Shelved until'), ...errors(400, 401, 404, 413, 415, 503) } } },
  lineStatus: { path: '/lines/{id}/status', method: 'post', operation: { summary: "Set a production line's status (running, stopped, changeover, maintenance) on its twin: while it is not running its machines' silence raises no communication-loss alarm, and once it runs again a silence counts from then; readings are judged as always. Who set it and why are logged; the status it has already changes nothing", parameters: [id('production line (twin) id')], requestBody: jsonBody(lineStatusBody), responses: { ...ok('The status set, the one before (null: never set) and whether it changed', { type: 'object', properties: { lineId: { type: 'string' }, lineStatus: { type: 'string' }, was: { type: ['string', 'null'] }, changed: { type: 'boolean' }, by: { type: 'string' } } }), ...errors(400, 401, 404, 413, 415, 503) } } },
  alertAck: { path: '/alerts/{id}/ack', method: 'post', operation: { summary: 'Acknowledge an alert (the first acknowledgement stands)', parameters: [id('alert id')], requestBody: jsonBody(ackBody), responses: { ...ok('Acknowledged'), ...errors(400, 401, 404, 409, 413, 415, 503) } } },
  deadLetterList: { path: '/telemetry/dead-letters', method: 'get', operation: { summary: 'Readings refused (dead letters: not JSON, no such twin, invalid against its DTDL model, a future timestamp…) by device and reason, the most recently refused first, with their count and the latest one\'s detail and body excerpt', parameters: [{ name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: 7 days ago' }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 }, description: 'groups, default 50, at most API_MAX_PAGE_SIZE' }], responses: { ...ok('Refused readings by device and reason, and how many are kept whole (keptWhole: batches, events) to be taken in again'), ...errors(400, 401, 503) } } },
  deadLetterReadmit: { path: '/telemetry/dead-letters/readmit', method: 'post', operation: { summary: 'Takes the refused readings kept whole through the pipeline again, for after mending why they were refused (the twin registered, the model extended): what is accepted is stored (late: no incident is raised on it), what is refused again stays kept; those refused for what the message itself is (not JSON, no device…) are passed by. Up to 100 kept batches a call; 409 without a storage account', parameters: [{ name: 'all', in: 'query', schema: { type: 'string', enum: ['true', 'false'], default: 'false' }, description: 'true: the kept batches refused for what the message itself is are tried too, for after an upgrade that reads more (a byte order mark)' }], responses: { ...ok('What the round did', { type: 'object', properties: { tried: { type: 'integer' }, stored: { type: 'integer' }, readmitted: { type: 'integer' }, stillRefused: { type: 'integer' }, failed: { type: 'integer' }, passedBy: { type: 'integer' } } }), ...errors(400, 401, 409, 503) } } },
  keptBatchList: {
    path: '/telemetry/kept',
    method: 'get',
    operation: {
      summary: 'The telemetry batches kept after their retries, waiting for redelivery (every 5 minutes): how many, how many readings, failing since when, and the first `limit` in redelivery order (partition, then sequence number), each with the error it failed with; `keeping` is false without a storage account (nothing is kept then: a failing batch is retried for as long as it fails)',
      parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1 }, description: 'batches listed, default 50, at most API_MAX_PAGE_SIZE; all are counted up to 10,000' }],
      responses: { ...ok('Kept batches'), ...errors(400, 401, 503) },
    },
  },
  keptBatchRedeliver: { path: '/telemetry/kept/redeliver', method: 'post', operation: { summary: 'One redelivery round now (the batchRedelivery timer runs one every 5 minutes): for after mending why the kept batches failed. Up to 20 batches; answers what it did (tried, redelivered, failed, narrowed, unreadable); 409 without a storage account', responses: { ...ok('What the round did', { type: 'object', properties: { tried: { type: 'integer' }, redelivered: { type: 'integer' }, failed: { type: 'integer' }, narrowed: { type: 'integer' }, unreadable: { type: 'integer' } } }), ...errors(401, 409, 503) } } },
  modelList: { path: '/models', method: 'get', operation: { summary: 'The DTDL models uploaded to Digital Twins', responses: { ...ok('Models'), ...errors(401, 503) } } },
  openapi: { path: '/openapi.json', method: 'get', operation: { summary: 'This document', security: [], responses: ok('OpenAPI 3.1') } },
  dashboard: { path: '/dashboard/{path}', method: 'get', operation: { summary: "The plant engineer's dashboard (a web page and its files)", security: [], parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'A file of the page', content: { 'text/html': {} } }, ...errors(404) } } },
};

let cached: object | undefined;

export function openApiDocument(): object {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, { path, method, operation }] of Object.entries(OPERATIONS)) (paths[path] ??= {})[method] = { operationId: name, ...operation };
  cached = {
    openapi: '3.1.0',
    info: { title: 'manufacturing-twins API', version: '1', description: 'Digital twins of the plant, their telemetry history, alerts and models. Errors are application/problem+json (RFC 9457) with a stable `code`.' },
    servers: [{ url: '/api' }],
    security: keyed,
    paths,
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key', description: 'A function key in Azure; the local API key printed by npm start' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
      schemas: {
        Problem: { type: 'object', required: ['type', 'title', 'status', 'detail', 'code'], properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' }, instance: { type: 'string' } } },
      },
    },
  };
  return cached;
}
