import test from 'ava';
import { runCommand } from '../../daemon/attach/command.js';
import { AttachError, kernelAttachArguments, mkfsExtendedOptions } from '../../daemon/attach/index.js';
import { parseDumpe2fsHeader } from '../../daemon/attach/filesystem.js';
import { nbdUnixUri } from '../../daemon/attach/nbdfuse.js';

test('a command that succeeds hands back its output and exit status', async (t) => {
  const result = await runCommand({ command: 'sh', args: ['-c', 'echo out; echo err >&2'], timeoutMs: 10_000 });
  t.deepEqual(result, { stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
});

test('a failing command is an error naming the command, its exit status and its last stderr lines', async (t) => {
  const script = 'for i in $(seq 1 30); do echo "line $i" >&2; done; exit 3';
  const error = await t.throwsAsync<AttachError>(runCommand({ command: 'sh', args: ['-c', script], timeoutMs: 10_000 }), {
    instanceOf: AttachError,
    code: 'ERR_ATTACH_COMMAND_FAILED',
  });
  t.is(error.exitCode, 3);
  t.is(error.command, `sh -c '${script}'`);
  t.deepEqual(error.stderrTail, Array.from({ length: 10 }, (_value, index) => `line ${index + 21}`));
  t.regex(error.message, /exited with status 3: line 21 \| .* \| line 30/);
});

test('an exit status listed as fine for the tool is not a failure', async (t) => {
  const result = await runCommand({ command: 'sh', args: ['-c', 'exit 2'], timeoutMs: 10_000, okExitCodes: [0, 2] });
  t.is(result.exitCode, 2);
});

test('a command that is not installed fails with its own code', async (t) => {
  await t.throwsAsync(runCommand({ command: 'lsvd-no-such-tool', args: [], timeoutMs: 10_000 }), {
    code: 'ERR_ATTACH_COMMAND_NOT_FOUND',
  });
});

test('a command that outlives its timeout is killed and reported', async (t) => {
  const error = await t.throwsAsync<AttachError>(runCommand({ command: 'sh', args: ['-c', 'echo waiting >&2; exec sleep 30'], timeoutMs: 300 }), {
    code: 'ERR_ATTACH_COMMAND_TIMEOUT',
  });
  t.is(error.exitCode, null);
  t.regex(error.message, /did not finish within 300 ms: waiting/);
});

test('the kernel attach runs nbd-client on the Unix socket with 4 KiB blocks, the export name and the timeout', (t) => {
  t.deepEqual(kernelAttachArguments({ socketPath: '/run/lsvd/nbd.sock', devicePath: '/dev/nbd0', exportName: 'vol1', timeoutSeconds: 60 }),
    ['-unix', '/run/lsvd/nbd.sock', '/dev/nbd0', '-b', '4096', '-N', 'vol1', '-t', '60']);
});

test('mkfs skips all zeroing only on a device known to read as zeros, and never discards', (t) => {
  t.is(mkfsExtendedOptions(true), 'nodiscard,assume_storage_prezeroed=1');
  t.is(mkfsExtendedOptions(false), 'nodiscard,lazy_itable_init=1');
});

test('the filesystem geometry is read from the dumpe2fs header', (t) => {
  const header = 'Filesystem magic number:  0xEF53\nBlock count:              65536\nReserved block count:     3276\nBlock size:               4096\n';
  t.deepEqual(parseDumpe2fsHeader(header), { blockCount: 65536, blockSizeBytes: 4096 });
});

test('the nbdfuse URI percent-encodes the export name and the socket path', (t) => {
  t.is(nbdUnixUri({ socketPath: '/run/a b/nbd.sock', exportName: 'vol/1' }), 'nbd+unix:///vol%2F1?socket=%2Frun%2Fa%20b%2Fnbd.sock');
  t.is(nbdUnixUri({ socketPath: '/run/nbd.sock', exportName: '' }), 'nbd+unix:///?socket=%2Frun%2Fnbd.sock');
});
