/**
 * Forwards one HTTP request to the upstream S3 server and streams the answer back.
 *
 * Headers pass through unchanged, `Host` included: a SigV4 signature covers the Host header the
 * client signed (the proxy's host:port), so an upstream that verifies signatures must see that
 * exact value. (s3rver 3.7 verifies only V2 signatures, which do not cover Host, and accepts V4
 * ones by access key alone; either way, passing Host through is what keeps both valid.)
 */

import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { pipeline } from 'node:stream/promises';

/**
 * RFC 9110 §7.6.1: connection-specific headers are not forwarded by a proxy. `expect` is dropped
 * too: Node's server has already answered `100 Continue` to the client, so the body is on its way.
 */
const HOP_BY_HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

function endToEndHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) {
      kept[name] = value;
    }
  }
  return kept;
}

function hasBody(request: IncomingMessage): boolean {
  const contentLength = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (contentLength !== undefined && contentLength !== '0');
}

export interface ForwardOptions {
  upstream: URL;
  agent: Agent;
  request: IncomingMessage;
  response: ServerResponse;
}

function openUpstream(options: ForwardOptions): { upstreamRequest: ClientRequest; answer: Promise<IncomingMessage> } {
  const { upstream, agent, request } = options;
  const upstreamRequest = httpRequest({
    protocol: upstream.protocol,
    hostname: upstream.hostname,
    port: upstream.port,
    method: request.method,
    path: request.url,
    headers: endToEndHeaders(request.headers),
    agent,
  });
  const answer = new Promise<IncomingMessage>((resolve, reject) => {
    upstreamRequest.once('response', resolve);
    upstreamRequest.once('error', reject);
  });
  return { upstreamRequest, answer };
}

/** Resolves once the whole response has been streamed back; rejects if upstream cannot be reached. */
export async function forwardRequest(options: ForwardOptions): Promise<void> {
  const { request, response } = options;
  if (!hasBody(request)) {
    request.resume();
    let { upstreamRequest, answer } = openUpstream(options);
    upstreamRequest.end();
    // A kept-alive socket the upstream closed just as it was reused fails before any answer
    // (Node's http docs, "agent.keepSocketAlive"); a request without a body is safe to send again.
    answer = answer.catch((error: unknown) => {
      if (!upstreamRequest.reusedSocket) {
        throw error;
      }
      ({ upstreamRequest, answer } = openUpstream(options));
      upstreamRequest.end();
      return answer;
    });
    const upstreamAnswer = await answer;
    response.writeHead(upstreamAnswer.statusCode ?? 502, upstreamAnswer.statusMessage, endToEndHeaders(upstreamAnswer.headers));
    await pipeline(upstreamAnswer, response);
    return;
  }
  const { upstreamRequest, answer } = openUpstream(options);
  // The request body streams straight through; a client that aborts mid-body aborts upstream too.
  const bodySent = pipeline(request, upstreamRequest);
  // Observed here so that an upstream failure is reported once, by the awaits below.
  bodySent.catch(() => undefined);
  const upstreamAnswer = await answer;
  response.writeHead(upstreamAnswer.statusCode ?? 502, upstreamAnswer.statusMessage, endToEndHeaders(upstreamAnswer.headers));
  await Promise.all([bodySent, pipeline(upstreamAnswer, response)]);
}
