// Loads every function module of an app folder the way the Functions host indexes it, in this
// process, and prints what was registered and what was loaded, as JSON on stdout:
//   node test/support/load-functions.mjs <app dir>
// A stand-in for the worker's @azure/functions-core receives the registrations; every module
// resolved (ES modules through a resolve hook, CommonJS through Module._load) and every native
// binary opened (process.dlopen) is recorded.
import Module, { createRequire, register } from 'node:module';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const app = process.argv[2];
const esm = new Set();
const cjs = new Set();
const natives = [];
const registrations = [];
const hooks = [];

const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => esm.add(url));
register('./resolve-hook.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  natives.push(filename);
  return dlopen.call(this, module, filename, ...rest);
};
const M = Module;
const load = M._load;
M._load = function (request, parent, ...rest) {
  try {
    cjs.add(M._resolveFilename(request, parent));
  } catch {
    // a built-in, or the stand-in below
  }
  return load.call(this, request, parent, ...rest);
};
const core = {
  setProgrammingModel() {},
  registerFunction(metadata) {
    registrations.push(metadata);
    return { dispose() {} };
  },
  registerHook(name) {
    hooks.push(name);
    return { dispose() {} };
  },
};
const id = '@azure/functions-core';
const resolve = M._resolveFilename;
M._resolveFilename = function (request, ...rest) {
  return request === id ? id : resolve.call(this, request, ...rest);
};
createRequire(import.meta.url).cache[id] = { id, filename: id, loaded: true, exports: core };

const dir = join(app, 'dist', 'src', 'functions');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) await import(pathToFileURL(join(dir, file)).href);
await new Promise((r) => setTimeout(r, 100)); // the hook thread's last messages
port1.close();
process.stdout.write(JSON.stringify({ registrations, hooks, esm: [...esm], cjs: [...cjs], natives }));
