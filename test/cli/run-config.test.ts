import test from 'ava';
import { buildDaemonConfig } from '../../cli/run-config.js';

const cwd = '/work';

test('defaults give an auto-attached, mounted volume with its socket in the run directory', (t) => {
  const config = buildDaemonConfig({ flags: {}, env: {}, cwd });
  t.like(config, { attach: 'auto', socketPath: '/run/lsvd/nbd.sock', mountPoint: '/mnt/lsvd', devicePath: '/dev/nbd0', exportName: 'lsvd', force: false, adoptExisting: false });
  t.is(config.sizeBytes, undefined, 'no size: the volume keeps its own');
  t.true(Object.isFrozen(config));
});

test('Fly variables name the size and the mount point, and flags win over them', (t) => {
  const env = { FLY_LSVD_DEVICE_SIZE: '1073741824', FLY_LSVD_MOUNT_POINT: '/data' };
  t.like(buildDaemonConfig({ flags: {}, env, cwd }), { sizeBytes: 2 ** 30, mountPoint: '/data' });
  t.like(buildDaemonConfig({ flags: { size: '2GiB', mount: 'disk' }, env, cwd }), { sizeBytes: 2 ** 31, mountPoint: '/work/disk' });
});

test('--no-mount and --attach none leave nothing to mount', (t) => {
  t.is(buildDaemonConfig({ flags: { mount: false }, env: {}, cwd }).mountPoint, undefined);
  t.is(buildDaemonConfig({ flags: { attach: 'none' }, env: {}, cwd }).mountPoint, undefined);
});

test('bad values are usage errors naming the flag', (t) => {
  const usage = { code: 'ERR_CLI_USAGE' };
  t.throws(() => buildDaemonConfig({ flags: { attach: 'sideways' }, env: {}, cwd }), { ...usage, message: /--attach/ });
  t.throws(() => buildDaemonConfig({ flags: { size: '1000' }, env: {}, cwd }), { ...usage, message: /multiple of 4096/ });
  t.throws(() => buildDaemonConfig({ flags: { size: 'lots' }, env: {}, cwd }), { ...usage, message: /--size/ });
  t.throws(() => buildDaemonConfig({ flags: { tcp: 'host:99999' }, env: {}, cwd }), { ...usage, message: /--tcp/ });
  t.throws(() => buildDaemonConfig({ flags: { kernelTimeout: '0' }, env: {}, cwd }), { ...usage, message: /--kernel-timeout/ });
  t.throws(() => buildDaemonConfig({ flags: { attach: 'none', mount: '/mnt' }, env: {}, cwd }), { ...usage, message: /--mount/ });
  t.throws(() => buildDaemonConfig({ flags: {}, env: { LSVD_ATTACH: 'nope' }, cwd }), usage);
});

test('--tcp takes a port or host:port, loopback by default', (t) => {
  t.deepEqual(buildDaemonConfig({ flags: { tcp: '10809' }, env: {}, cwd }).tcp, { host: '127.0.0.1', port: 10809 });
  t.deepEqual(buildDaemonConfig({ flags: { tcp: '0.0.0.0:10809' }, env: {}, cwd }).tcp, { host: '0.0.0.0', port: 10809 });
});

test('the engine bounds an operator may set reach the volume config, in its units', (t) => {
  const config = buildDaemonConfig({ flags: { uploadMemory: '32MiB', readTimeout: '5' }, env: { LSVD_CACHE_SIZE: '0' }, cwd });
  t.deepEqual(config.volume, { unuploadedBytesMax: 32 * 2 ** 20, readCacheBytes: 0, readRetryTimeoutMs: 5000 });
  t.throws(() => buildDaemonConfig({ flags: { readTimeout: 'soon' }, env: {}, cwd }), { code: 'ERR_CLI_USAGE', message: /--read-timeout/ });
});

test('engine bounds that contradict each other are a usage error, before anything starts', (t) => {
  t.throws(() => buildDaemonConfig({ flags: { uploadMemory: '4KiB' }, env: {}, cwd }), { code: 'ERR_CLI_USAGE' });
});
