/**
 * `--store <url>`: which store, and where in it, the volume lives (docs/CLI.md).
 *
 *   s3://bucket/prefix/   an S3 bucket; the prefix is normalised to be empty or end in `/`
 *   file:///abs/path      a directory (the file store)
 *   ./dir, /abs/dir       a directory; relative paths resolve against the working directory
 *   memory:               an empty in-process store that vanishes on exit (tests, dry runs)
 *
 * Anything with another `scheme:` is refused, so a typo never silently becomes a directory.
 */

import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from './errors.js';

export type ParsedStoreUrl =
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'file'; directory: string }
  | { kind: 'memory' };

const SCHEME_PATTERN = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** Permissive on purpose: S3 clones accept names AWS would not (uppercase, underscores). */
const BUCKET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** `vol1` → `vol1/`, `/a/b/` → `a/b/`, `` → ``; refuses empty, `.` and `..` segments. */
export function normalisePrefix(prefix: string, what: string): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  const segments = trimmed.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw usageError(`${what} ${JSON.stringify(prefix)} has an empty, "." or ".." path segment`);
  }
  return `${trimmed}/`;
}

/**
 * Parsed by hand, not with `new URL`: WHATWG URL parsing resolves `..` and drops empty segments
 * in the path, which would silently point lsvd at another prefix.
 */
function parseS3Url(url: string): ParsedStoreUrl {
  const match = /^s3:\/\/([^/?#]*)([^?#]*)$/i.exec(url);
  const authority = match?.[1];
  const path = match?.[2] ?? '';
  if (match === null || authority === undefined) {
    throw usageError('--store s3:// URL is malformed (no query or fragment allowed); expected s3://bucket/prefix/');
  }
  // Never echo the URL here: it might carry credentials.
  if (authority.includes('@')) {
    throw usageError('--store s3:// URL must not contain credentials; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  if (authority === '') throw usageError('--store s3:// URL names no bucket; expected s3://bucket/prefix/');
  if (!BUCKET_PATTERN.test(authority)) throw usageError(`bucket name ${JSON.stringify(authority)} is not valid`);
  let prefix: string;
  try {
    prefix = decodeURIComponent(path);
  } catch {
    throw usageError('--store s3:// prefix has a malformed %-escape');
  }
  return { kind: 's3', bucket: authority, prefix: normalisePrefix(prefix, 'the s3:// prefix') };
}

function parseFileUrl(url: string): ParsedStoreUrl {
  let directory: string;
  try {
    directory = fileURLToPath(url);
  } catch {
    throw usageError(`--store ${JSON.stringify(url)} is not a local file:///absolute/path URL`);
  }
  return { kind: 'file', directory: resolve(directory) };
}

export function parseStoreUrl(url: string, options: { cwd: string }): ParsedStoreUrl {
  if (url.trim() === '') throw usageError('--store is empty');
  const scheme = SCHEME_PATTERN.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    return { kind: 'file', directory: isAbsolute(url) ? resolve(url) : resolve(options.cwd, url) };
  }
  if (scheme === 's3') return parseS3Url(url);
  if (scheme === 'file') return parseFileUrl(url);
  if (scheme === 'memory') {
    if (url.toLowerCase() !== 'memory:') throw usageError('--store memory: takes nothing after the colon');
    return { kind: 'memory' };
  }
  throw usageError(`--store scheme "${scheme}:" is not supported; use s3://bucket/prefix/, file:///path, a directory path, or memory:`);
}
