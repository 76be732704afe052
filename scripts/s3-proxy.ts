/**
 * An HTTP proxy for S3 on loopback that adds latency and injects faults, so that tests and
 * benchmarks see what a distant, sometimes unwell object store looks like.
 *
 * Each request waits `latencyMs ± jitterMs` (seeded) before it is forwarded, then is either
 * forwarded (bodies stream both ways, connections are kept alive) or answered with a well-formed
 * S3 error, or has its connection destroyed. Counting requests by method is how the benchmark
 * counts PUTs and GETs.
 *
 * CLI: `node --import tsx scripts/s3-proxy.ts --upstream http://127.0.0.1:PORT --latency-ms 50`
 * prints the proxy's endpoint and runs until SIGINT or SIGTERM.
 */

import assert from 'node:assert/strict';
import { once, setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { FaultKind, ProxyFaults, S3ErrorReply } from './s3-proxy/faults.js';
import { assertValidFaults, chooseFault, encodeS3ErrorXml, S3_ERROR_REPLIES } from './s3-proxy/faults.js';
import { forwardRequest } from './s3-proxy/forward.js';
import { createSeededRandom } from './s3-proxy/seeded-random.js';

export type { ProxyFaults } from './s3-proxy/faults.js';

export interface S3ProxyOptions {
  /** The S3 server to forward to, e.g. `http://127.0.0.1:PORT` of s3rver. */
  upstream: string;
  latencyMs: number;
  /** Each request's added delay is uniform in `latencyMs ± jitterMs` (never below zero). */
  jitterMs: number;
  seed: number;
  faults?: ProxyFaults;
}

export interface S3ProxyStats {
  requests: number;
  /** e.g. `{ PUT: 12, GET: 40, HEAD: 1 }`. */
  byMethod: Record<string, number>;
  /** Requests that were failed, reset or slowed on purpose. */
  faultsInjected: number;
  byFault: Partial<Record<FaultKind, number>>;
}

export interface S3Proxy {
  /** `http://127.0.0.1:PORT`, for a client's `endpoint` (path-style addressing). */
  endpoint: string;
  /** Replaces the fault settings; requests already waiting keep the ones they arrived with. */
  setFaults(faults: ProxyFaults): void;
  setLatency(latencyMs: number, jitterMs: number): void;
  stats(): S3ProxyStats;
  /** Stops listening, drops every connection and abandons requests still waiting. */
  close(): Promise<void>;
}

/** Upstream sockets kept open; lsvd itself uses at most 100 (DESIGN.md §3), s3backer 20 by default. */
const UPSTREAM_SOCKETS_MAX = 256;

/**
 * Idle upstream sockets are closed after this, before the upstream closes them: Node servers
 * (s3rver among them) drop idle keep-alive connections after 5 s. (Node's agent honours a
 * server's `Keep-Alive: timeout` hint only below its own `timeout`, so one must be set.)
 */
const UPSTREAM_IDLE_TIMEOUT_MS = 4_000;

/** Longer than any client's idle keep-alive, so a client never reuses a socket the proxy just closed. */
const CLIENT_KEEP_ALIVE_TIMEOUT_MS = 65_000;

function assertValidLatency(latencyMs: number, jitterMs: number): void {
  assert(Number.isFinite(latencyMs) && latencyMs >= 0, `latencyMs must be >= 0, got ${latencyMs}`);
  assert(Number.isFinite(jitterMs) && jitterMs >= 0, `jitterMs must be >= 0, got ${jitterMs}`);
}

/** Timers may fire up to a millisecond early by the high-resolution clock; this one never does. */
async function sleepAtLeast(delayMs: number, signal: AbortSignal): Promise<void> {
  const deadlineMs = performance.now() + delayMs;
  for (let remainingMs = delayMs; remainingMs > 0; remainingMs = deadlineMs - performance.now()) {
    await sleep(Math.ceil(remainingMs), undefined, { signal });
  }
}

async function sendS3Error(options: { request: IncomingMessage; response: ServerResponse; reply: S3ErrorReply; requestId: string }): Promise<void> {
  const { request, response, reply, requestId } = options;
  // Read the whole body first so the keep-alive connection stays usable for the next request.
  // (`finished` also settles when the client gives up half way, where 'end' never comes.)
  request.resume();
  await finished(request);
  const resource = new URL(request.url ?? '/', 'http://proxy').pathname;
  const body = encodeS3ErrorXml({ reply, resource, requestId });
  response.writeHead(reply.statusCode, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
  });
  response.end(body);
}

export async function startS3Proxy(options: S3ProxyOptions): Promise<S3Proxy> {
  const upstream = new URL(options.upstream);
  assert(upstream.protocol === 'http:', `the upstream must be plain http on loopback, got ${options.upstream}`);
  assertValidLatency(options.latencyMs, options.jitterMs);
  let faults: ProxyFaults = { ...options.faults };
  assertValidFaults(faults);
  let latencyMs = options.latencyMs;
  let jitterMs = options.jitterMs;
  const random = createSeededRandom(options.seed);
  const agent = new Agent({ keepAlive: true, maxSockets: UPSTREAM_SOCKETS_MAX, timeout: UPSTREAM_IDLE_TIMEOUT_MS });
  const closing = new AbortController();
  // Every waiting request listens for the close: as many listeners as requests in flight.
  setMaxListeners(0, closing.signal);
  const counters = { requests: 0, faultsInjected: 0 };
  const byMethod: Record<string, number> = {};
  const byFault: Partial<Record<FaultKind, number>> = {};

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    counters.requests += 1;
    byMethod[method] = (byMethod[method] ?? 0) + 1;
    const requestId = `LSVDPROXY${counters.requests.toString(16).padStart(8, '0').toUpperCase()}`;
    // Exactly two draws per request: see scripts/s3-proxy/faults.ts.
    const delayDraw = random();
    const fault = chooseFault(faults, random());
    let delayMs = Math.max(0, latencyMs + (2 * delayDraw - 1) * jitterMs);
    if (fault !== undefined) {
      counters.faultsInjected += 1;
      byFault[fault] = (byFault[fault] ?? 0) + 1;
      delayMs += fault === 'slow' ? (faults.slowMs ?? 0) : 0;
    }
    await sleepAtLeast(delayMs, closing.signal);
    if (fault === 'reset' || fault === 'outage-reset') {
      request.socket.destroy();
    } else if (fault === 'error') {
      await sendS3Error({ request, response, reply: S3_ERROR_REPLIES.error, requestId });
    } else if (fault === 'throttle') {
      await sendS3Error({ request, response, reply: S3_ERROR_REPLIES.throttle, requestId });
    } else if (fault === 'outage-unavailable') {
      await sendS3Error({ request, response, reply: S3_ERROR_REPLIES.unavailable, requestId });
    } else {
      await forwardOrFail({ request, response, requestId });
    }
  }

  async function forwardOrFail(exchange: { request: IncomingMessage; response: ServerResponse; requestId: string }): Promise<void> {
    const { request, response, requestId } = exchange;
    try {
      await forwardRequest({ upstream, agent, request, response });
    } catch {
      if (!response.headersSent && !request.socket.destroyed) {
        await sendS3Error({ request, response, reply: S3_ERROR_REPLIES.badGateway, requestId });
      } else {
        response.destroy();
      }
    }
  }

  const server = createServer({ keepAliveTimeout: CLIENT_KEEP_ALIVE_TIMEOUT_MS }, (request, response) => {
    handle(request, response).catch(() => {
      // Only a closing proxy or a client that went away gets here: nobody is left to answer.
      response.destroy();
    });
  });
  server.listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setFaults(nextFaults: ProxyFaults): void {
      assertValidFaults(nextFaults);
      faults = { ...nextFaults };
    },
    setLatency(nextLatencyMs: number, nextJitterMs: number): void {
      assertValidLatency(nextLatencyMs, nextJitterMs);
      latencyMs = nextLatencyMs;
      jitterMs = nextJitterMs;
    },
    stats(): S3ProxyStats {
      return { ...counters, byMethod: { ...byMethod }, byFault: { ...byFault } };
    },
    async close(): Promise<void> {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

function parseRate(text: string): number {
  const rate = Number(text);
  if (!(rate >= 0 && rate <= 1)) {
    throw new Error(`expected a fraction between 0 and 1, got "${text}"`);
  }
  return rate;
}

async function runCli(argv: string[]): Promise<void> {
  const program = new Command('s3-proxy')
    .description('A latency- and fault-injecting HTTP proxy for an S3 server on loopback')
    .requiredOption('--upstream <url>', 'the S3 server to forward to, e.g. http://127.0.0.1:9000')
    .option('--latency-ms <ms>', 'delay added to every request', Number, 0)
    .option('--jitter-ms <ms>', 'the delay varies uniformly by this much either way', Number, 0)
    .option('--seed <n>', 'seed of the delays and faults', Number, 1)
    .option('--error-rate <fraction>', 'requests answered 500 InternalError', parseRate)
    .option('--throttle-rate <fraction>', 'requests answered 503 SlowDown', parseRate)
    .option('--reset-rate <fraction>', 'requests whose connection is destroyed', parseRate)
    .option('--slow-rate <fraction>', 'requests delayed by a further --slow-ms', parseRate)
    .option('--slow-ms <ms>', 'extra delay of a slow request', Number)
    .option('--outage', 'fail every request')
    .parse(argv);
  const flags = program.opts<Record<string, unknown>>();
  const faults: ProxyFaults = {};
  for (const name of ['errorRate', 'throttleRate', 'resetRate', 'slowRate', 'slowMs'] as const) {
    if (typeof flags[name] === 'number') {
      faults[name] = flags[name];
    }
  }
  if (flags['outage'] === true) {
    faults.outage = true;
  }
  const proxy = await startS3Proxy({
    upstream: String(flags['upstream']),
    latencyMs: Number(flags['latencyMs']),
    jitterMs: Number(flags['jitterMs']),
    seed: Number(flags['seed']),
    faults,
  });
  process.stdout.write(`${proxy.endpoint}\n`);
  const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await proxy.close();
  process.stderr.write(`s3-proxy: stopped on ${String(signal[0] ?? 'signal')}: ${JSON.stringify(proxy.stats())}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runCli(process.argv).catch((error: unknown) => {
    process.stderr.write(`s3-proxy: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
