/**
 * A scripted HTTP server on 127.0.0.1 standing in for an S3 endpoint, to make the S3 store
 * meet answers s3rver never gives (throttling, 412, echoed secrets, ignored ranges, silence).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3StoreConfig } from '../../store/store-config.js';

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** Returns the reply, or undefined to never answer. */
export type FakeHandler = (request: RecordedRequest) => FakeReply | undefined;

export interface FakeS3 {
  endpoint: string;
  requests: RecordedRequest[];
  server: http.Server;
  storeConfig(options?: { prefix?: string; secretAccessKey?: string; accessKeyId?: string; sessionToken?: string }): S3StoreConfig;
  close(): Promise<void>;
}

export async function startFakeS3(handler: FakeHandler): Promise<FakeS3> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded = { method: request.method ?? 'GET', url: new URL(request.url ?? '/', 'http://fake'), headers: request.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      const reply = handler(recorded);
      if (reply === undefined) return;
      response.writeHead(reply.status, reply.headers ?? {});
      response.end(recorded.method === 'HEAD' ? undefined : reply.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests,
    server,
    storeConfig(options = {}) {
      const credentials = { accessKeyId: options.accessKeyId ?? 'FAKEACCESSKEY', secretAccessKey: options.secretAccessKey ?? 'fake-secret-key' };
      return {
        kind: 's3',
        bucket: 'fake-bucket',
        prefix: options.prefix ?? '',
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: options.sessionToken === undefined ? credentials : { ...credentials, sessionToken: options.sessionToken },
      };
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** An S3 error document (AWS S3 API reference, "Error responses"). */
export function s3ErrorReply(status: number, code: string, message: string): FakeReply {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fake-request-1</RequestId></Error>`;
  return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'fake-request-1' }, body };
}
