/**
 * A local scoring endpoint with the Azure Machine Learning managed online endpoint contract:
 * POST /score with `Authorization: Bearer <key>` and an MLflow-style split body,
 * `{"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}}`, answered with a JSON
 * array, one prediction per row, in row order. It serves a failure model file (models/) the same
 * way ml/score.py does in Azure: rows carry the streaming detector's failure features as columns.
 * An optional `azureml-model-deployment` header is echoed back as Azure does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sameSecret } from '../../lib/secrets.ts';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { FailureModel } from '../../lib/anomaly/failure-model.ts';

/** The key the local stack's scoring endpoint takes: local only, like the emulators' tokens. */
export const LOCAL_ML_KEY = 'local-development';

export interface MlEndpointOptions {
  model: FailureModel;
  /** Required bearer key (Azure ML key auth). */
  key: string;
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Bodies over this are refused with 413 (default 1.5 MB): scoring calls should stay small. */
  maxBodyBytes?: number;
  deploymentName?: string;
  log?: (line: string) => void;
}

export interface MlEndpoint {
  url: string;
  scoringUri: string;
  port: number;
  stats: { requests: number; rows: number; refused: number };
  close(): Promise<void>;
}

const body = z.object({
  input_data: z.object({
    columns: z.array(z.string()).min(1),
    index: z.array(z.number()).optional(),
    data: z.array(z.array(z.union([z.string(), z.number(), z.null()]))),
  }),
});

class Refusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}


export async function startMlEndpoint(options: MlEndpointOptions): Promise<MlEndpoint> {
  const maxBytes = options.maxBodyBytes ?? 1_500_000;
  const deployment = options.deploymentName ?? 'local';
  const stats = { requests: 0, rows: 0, refused: 0 };
  const model = options.model;

  const score = (raw: Buffer): unknown[] => {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new Refusal(400, 'the request body is not JSON');
    }
    const parsed = body.safeParse(json);
    if (!parsed.success) throw new Refusal(400, `the request body needs {"input_data": {"columns", "index", "data"}}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const { columns, data } = parsed.data.input_data;
    const featureIndex = model.file.features.map((f) => columns.indexOf(f));
    if (featureIndex.every((i) => i < 0)) throw new Refusal(400, `the request has none of the model's feature columns (${model.file.features.join(', ')}); it has: ${columns.join(', ')}`);
    return data.map((row, r) => {
      if (row.length !== columns.length) throw new Refusal(400, `row ${r} has ${row.length} values for ${columns.length} columns`);
      const features: Record<string, number> = {};
      model.file.features.forEach((f, j) => {
        const v = featureIndex[j]! >= 0 ? row[featureIndex[j]!] : null;
        if (typeof v === 'number') features[f] = v;
      });
      return { failureProbability: Math.round(model.predict(features) * 1e6) / 1e6, modelVersion: model.version };
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    // Parsed as a path only: '//' or '//host/x' must not be read as an authority.
    const url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? req.url : `/${req.url}`}`);
    if (req.method === 'GET' && url.pathname === '/') return send(200, 'Healthy');
    if (url.pathname !== '/score') return send(404, { error: `no route ${url.pathname}: POST /score` });
    if (req.method !== 'POST') return send(405, { error: 'POST /score' }, { allow: 'POST' });
    stats.requests++;
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !sameSecret(auth.slice(7), options.key)) {
      stats.refused++;
      req.resume();
      return send(401, { error: 'missing or invalid endpoint key: send Authorization: Bearer <key>' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        stats.refused++;
        return send(413, { error: `request body over ${maxBytes} bytes: send fewer rows per call` }, { connection: 'close' });
      }
      chunks.push(chunk);
    }
    try {
      const predictions = score(Buffer.concat(chunks));
      stats.rows += predictions.length;
      send(200, predictions, { 'azureml-model-deployment': req.headers['azureml-model-deployment']?.toString() || deployment });
    } catch (error) {
      stats.refused++;
      if (error instanceof Refusal) return send(error.status, { error: error.message });
      options.log?.(`ml endpoint: ${(error as Error).message}`);
      send(500, { error: 'scoring failed' });
    }
  };

  // Whatever a request does, it gets an answer and the process goes on.
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      options.log?.(`ml endpoint: ${error.message}`);
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad request' }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  return {
    url,
    scoringUri: `${url}/score`,
    port,
    stats,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
