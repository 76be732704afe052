/**
 * Which fault, if any, the proxy injects into one request, and the S3 error bodies it answers with.
 *
 * Every request draws exactly two numbers from the seeded generator (one for the delay, one for
 * the fault), whatever the outcome, so N requests with a given seed always inject the same number
 * of each fault even when their arrival order varies.
 */

import assert from 'node:assert/strict';

export interface ProxyFaults {
  /** Fraction of requests (0..1) answered 500 InternalError. */
  errorRate?: number;
  /** Fraction of requests (0..1) answered 503 SlowDown. */
  throttleRate?: number;
  /** Fraction of requests (0..1) whose connection is destroyed without a response. */
  resetRate?: number;
  /** Fraction of requests (0..1) delayed by a further `slowMs` before being forwarded. */
  slowRate?: number;
  slowMs?: number;
  /** Every request fails: half answered 503 ServiceUnavailable, half reset (seeded). */
  outage?: boolean;
}

export type FaultKind = 'error' | 'throttle' | 'reset' | 'slow' | 'outage-unavailable' | 'outage-reset';

export function assertValidFaults(faults: ProxyFaults): void {
  const rates = [faults.errorRate, faults.throttleRate, faults.resetRate, faults.slowRate];
  for (const rate of rates) {
    assert(rate === undefined || (rate >= 0 && rate <= 1), `fault rates are fractions in 0..1, got ${rate}`);
  }
  const rateSum = rates.reduce<number>((sum, rate) => sum + (rate ?? 0), 0);
  // The rates partition one uniform draw, so they cannot add up past certainty.
  assert(rateSum <= 1 + 1e-9, `fault rates add up to ${rateSum}, more than 1`);
  assert(faults.slowMs === undefined || faults.slowMs >= 0, `slowMs must be >= 0, got ${faults.slowMs}`);
}

/** Maps one uniform draw in [0, 1) to a fault: consecutive slices of the unit interval, one per rate. */
export function chooseFault(faults: ProxyFaults, draw: number): FaultKind | undefined {
  if (faults.outage === true) {
    return draw < 0.5 ? 'outage-unavailable' : 'outage-reset';
  }
  let sliceEnd = 0;
  const slices: Array<[FaultKind, number | undefined]> = [
    ['error', faults.errorRate],
    ['throttle', faults.throttleRate],
    ['reset', faults.resetRate],
    ['slow', faults.slowRate],
  ];
  for (const [kind, rate] of slices) {
    sliceEnd += rate ?? 0;
    if (draw < sliceEnd) {
      return kind;
    }
  }
  return undefined;
}

export interface S3ErrorReply {
  statusCode: number;
  code: string;
  message: string;
}

/** The status, code and message real S3 sends for each injected error (S3 API "Error responses"). */
export const S3_ERROR_REPLIES = {
  error: { statusCode: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  throttle: { statusCode: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  unavailable: { statusCode: 503, code: 'ServiceUnavailable', message: 'Service is unable to handle request.' },
  badGateway: { statusCode: 502, code: 'InternalError', message: 'The proxy could not reach the upstream S3 server.' },
} as const satisfies Record<string, S3ErrorReply>;

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The XML body of an S3 error response (S3 API reference, "Error responses", REST error response). */
export function encodeS3ErrorXml(options: { reply: S3ErrorReply; resource: string; requestId: string }): string {
  const { reply, resource, requestId } = options;
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${reply.code}</Code><Message>${escapeXml(reply.message)}</Message>` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`
  );
}
