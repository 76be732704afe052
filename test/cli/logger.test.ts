import test from 'ava';
import { buildLoggerOptions, createLogger } from '../../cli/logger.js';

function capture(): { lines: string[]; destination: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

test('json logs are one NDJSON record per line and honour the level', (t) => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: 'warn', format: 'json', destination });
  logger.info('hidden');
  logger.warn({ key: 'notes.txt' }, 'shown');
  t.is(lines.length, 1);
  t.like(JSON.parse(lines[0] ?? '{}'), { level: 40, key: 'notes.txt', msg: 'shown' });
});

test('pretty logs are human-readable text, written synchronously', (t) => {
  const { lines, destination } = capture();
  createLogger({ level: 'info', format: 'pretty', destination }).info({ sequence: 7 }, 'Replayed');
  t.is(lines.length, 1);
  t.regex(lines[0] ?? '', /INFO.*Replayed/);
  t.regex(lines[0] ?? '', /sequence: 7/);
});

test('credentials logged by mistake are redacted', (t) => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: 'info', format: 'json', destination });
  logger.info({ config: { store: { credentials: { accessKeyId: 'AKIA', secretAccessKey: 'shh-secret-1' } } } }, 'config');
  logger.info({ credentials: { secretAccessKey: 'shh-secret-2' } }, 'direct');
  logger.info({ store: { secretAccessKey: 'shh-secret-3', sessionToken: 'tok-secret-4' } }, 'nested');
  const output = lines.join('');
  for (const secret of ['shh-secret-1', 'shh-secret-2', 'shh-secret-3', 'tok-secret-4']) t.false(output.includes(secret), secret);
});

test('level and format come from flags, then LSVD_LOG_LEVEL/LSVD_LOG_FORMAT, then defaults that depend on the terminal', (t) => {
  t.deepEqual(buildLoggerOptions({ flags: {}, env: {}, stderrIsTty: false }), { level: 'info', format: 'json' });
  t.deepEqual(buildLoggerOptions({ flags: {}, env: {}, stderrIsTty: true }), { level: 'info', format: 'pretty' });
  t.deepEqual(buildLoggerOptions({ flags: {}, env: { LSVD_LOG_LEVEL: 'debug', LSVD_LOG_FORMAT: 'pretty' }, stderrIsTty: false }), { level: 'debug', format: 'pretty' });
  t.deepEqual(buildLoggerOptions({ flags: { logLevel: 'error', logFormat: 'json' }, env: { LSVD_LOG_LEVEL: 'debug' }, stderrIsTty: true }), { level: 'error', format: 'json' });
  t.throws(() => buildLoggerOptions({ flags: { logLevel: 'loud' }, env: {}, stderrIsTty: false }), { code: 'ERR_CLI_USAGE' });
  t.throws(() => buildLoggerOptions({ flags: { logFormat: 'xml' }, env: {}, stderrIsTty: false }), { code: 'ERR_CLI_USAGE' });
});
