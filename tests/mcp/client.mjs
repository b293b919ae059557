// MCP scenario driver on the official TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// node/package-lock.json; install with setup.sh). Same CLI, steps and output lines as client.py
// (README.md has the step format); it knows nothing about TaylorDash.
//
//   node client.mjs stdio -- <command> [args...]
//   node client.mjs http <url> [--token TOKEN] [--header 'Name: value']...
//
// This SDK only speaks the initialize handshake (newest: 2025-11-25). Exit 0 when the steps ran,
// 3 when the session died, 2 on bad input.
import { copyFileSync, readFileSync, rmSync } from 'node:fs';

const sdk = new URL('./node/node_modules/@modelcontextprotocol/sdk/dist/esm/', import.meta.url);
const { Client } = await import(new URL('client/index.js', sdk));
const { StdioClientTransport } = await import(new URL('client/stdio.js', sdk));
const { StreamableHTTPClientTransport, StreamableHTTPError } = await import(new URL('client/streamableHttp.js', sdk));
const { McpError, ToolListChangedNotificationSchema } = await import(new URL('types.js', sdk));

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

function usage(msg) {
  process.stderr.write(`client.mjs: ${msg}\nusage: node client.mjs stdio -- <command> [args...] | http <url> [--token T] [--header 'Name: value']...\n`);
  process.exit(2);
}

// An error line: HTTP failures come as StreamableHTTPError whose `code` is the HTTP status
// (-1 when there was none); JSON-RPC errors come as McpError whose `code` is the JSON-RPC code.
function errorLine(err, fields) {
  const cause = err?.cause?.message ? ` (${err.cause.message})` : '';
  fields.error = `${err?.constructor?.name ?? 'Error'}: ${err?.message ?? err}${cause}`;
  if (err instanceof StreamableHTTPError && err.code >= 100) fields.http_status = err.code;
  else if (err instanceof McpError) fields.code = err.code;
  return fields;
}

function transportFrom(argv) {
  const [kind, ...rest] = argv;
  if (kind === 'stdio') {
    const cmd = rest[0] === '--' ? rest.slice(1) : rest;
    if (!cmd.length) usage('stdio needs a command after --');
    return new StdioClientTransport({ command: cmd[0], args: cmd.slice(1), env: process.env, stderr: 'inherit' });
  }
  if (kind !== 'http' || !rest[0]) usage('expected stdio or http <url>');
  const headers = {};
  for (let i = 1; i < rest.length; i += 2) {
    if (rest[i] === '--token') headers.Authorization = `Bearer ${rest[i + 1]}`;
    else if (rest[i] === '--header') {
      const at = rest[i + 1].indexOf(':');
      headers[rest[i + 1].slice(0, at).trim()] = rest[i + 1].slice(at + 1).trim();
    } else usage(`unknown option ${rest[i]}`);
  }
  return new StreamableHTTPClientTransport(new URL(rest[0]), { requestInit: { headers } });
}

let steps;
try {
  steps = JSON.parse(readFileSync(0, 'utf8') || '[]');
  if (!Array.isArray(steps)) throw new Error();
} catch {
  usage('stdin must be a JSON array of steps');
}

const transport = transportFrom(process.argv.slice(2));
let protocolVersion = null; // the SDK hands the negotiated version to the transport; keep a copy
const setVersion = transport.setProtocolVersion?.bind(transport);
transport.setProtocolVersion = (v) => { protocolVersion = v; setVersion?.(v); };

const client = new Client({ name: 'taylordash-test-client', version: '0.1.0' });
let listChanged = 0; // tools/list_changed not yet consumed by a wait step, counted from the start
let wake = () => {};
client.setNotificationHandler(ToolListChangedNotificationSchema, async () => { listChanged += 1; wake(); });
let closed = false;
client.onclose = () => { closed = true; };
// Transport faults the SDK does not tie to a request (e.g. a request's SSE stream dropping: that
// request then waits for its timeout, 60 s by default) go to stderr for the test log.
client.onerror = (err) => process.stderr.write(`client.mjs: transport: ${err?.message ?? err}\n`);

const ops = {
  async list_tools() {
    const tools = [];
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return { tools: tools.map(({ name, description, inputSchema, outputSchema, annotations }) =>
      ({ name, description, inputSchema, outputSchema, annotations })) };
  },

  async call(step) {
    const progress = (wire.progress = []);
    const abort = new AbortController();
    const options = { signal: abort.signal };
    if (step.progress) options.onprogress = () => {}; // makes the SDK send a progressToken; see `wire`
    if (step.timeout_s !== undefined) options.timeout = step.timeout_s * 1000;
    // Aborting the signal makes the SDK send notifications/cancelled for the request and reject it.
    const timer = step.cancel_after_ms !== undefined && setTimeout(() => abort.abort('cancel_after_ms'), step.cancel_after_ms);
    const start = performance.now();
    try {
      const r = await client.callTool({ name: step.tool, arguments: step.arguments ?? {} }, undefined, options);
      const content = r.content.map((c) => (c.type === 'text' ? c.text : c));
      const out = { isError: !!r.isError, structuredContent: r.structuredContent ?? null, content,
        elapsed_ms: Math.round(performance.now() - start), progress };
      if (timer) out.cancelled = false;
      return out;
    } catch (err) {
      if (abort.signal.aborted) return { cancelled: true, elapsed_ms: Math.round(performance.now() - start), progress };
      throw err;
    } finally {
      clearTimeout(timer);
      wire.token = wire.progress = undefined;
    }
  },

  async wait_list_changed(step) {
    const start = performance.now();
    if (!listChanged) {
      await new Promise((resolve) => {
        const t = setTimeout(resolve, (step.timeout_s ?? 5) * 1000);
        wake = () => { clearTimeout(t); resolve(); };
      });
      wake = () => {};
    }
    const count = listChanged; // one wait consumes every arrival so far
    listChanged = 0;
    return { arrived: count > 0, count, elapsed_ms: Math.round(performance.now() - start) };
  },

  async copy(step) { copyFileSync(step.from, step.to); return { ok: true }; },
  async remove(step) { rmSync(step.path, { recursive: true }); return { ok: true }; },
  async sleep(step) { await new Promise((r) => setTimeout(r, step.ms)); return { ok: true }; },
};

try {
  await client.connect(transport);
} catch (err) {
  emit(errorLine(err, { op: 'initialize' }));
  await client.close().catch(() => {});
  process.exit(3);
}
// Progress is recorded as it comes off the transport, for the token of the call in flight: the
// SDK hands notifications to onprogress on a later microtask but settles the response at once, so
// it drops a progress notification read together with the response (typescript-sdk issue 2580).
const wire = { token: undefined, progress: undefined };
const send = transport.send.bind(transport);
transport.send = (msg, opts) => {
  if (msg.method === 'tools/call') wire.token = msg.params?._meta?.progressToken;
  return send(msg, opts);
};
const onmessage = transport.onmessage;
transport.onmessage = (msg, extra) => {
  const p = msg.method === 'notifications/progress' ? msg.params : undefined;
  if (p && wire.progress && wire.token !== undefined && p.progressToken === wire.token) {
    wire.progress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null });
  }
  onmessage(msg, extra);
};
emit({ op: 'initialize', protocolVersion, serverInfo: client.getServerVersion() ?? null,
  capabilities: client.getServerCapabilities() ?? null });

let code = 0;
let refused = false;
for (const [i, step] of steps.entries()) {
  try {
    if (!Object.hasOwn(ops, step.op)) throw new Error(`unknown op ${JSON.stringify(step.op)}`);
    emit({ step: i, op: step.op, ...(await ops[step.op](step)) });
  } catch (err) {
    emit(errorLine(err, { step: i, op: step.op }));
    refused = err?.cause?.code === 'ECONNREFUSED'; // the HTTP server is gone: the session died
  }
  if (closed || refused) { code = 3; break; }
}
await client.close().catch(() => {});
process.exit(code);
