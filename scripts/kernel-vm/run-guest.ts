/**
 * Boots Debian's kernel under qemu (TCG) with the kernel-vm initramfs and runs one guest phase
 * against an NBD server on a host Unix socket. The guest reaches the socket through qemu's
 * user networking guestfwd (10.0.2.100:10809 → socat → the socket); restrict=on gives the guest
 * no other network. See docs/ATTACH.md "The real kernel in qemu".
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export type GuestPhase = 'write' | 'verify';

export interface RunGuestOptions {
  socketPath: string;
  /** Passed to the guest's nbd-client -N; the default export when absent. */
  exportName?: string;
  phase: GuestPhase;
  /** Bounds the VM run (not the one-time preparation). */
  timeoutMs: number;
  /** Where to write the serial console, for a person to read after a failure. */
  logPath?: string;
}

export interface GuestRun {
  passed: boolean;
  console: string;
  /** Wall time of the VM run, boot to power-off. */
  wallMs: number;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const PREPARE_SCRIPT = join(HERE, 'prepare.sh');
/** The first preparation downloads about 27 MB and builds a 6 MB initramfs. */
const PREPARE_TIMEOUT_MS = 15 * 60_000;
const GUEST_MEMORY_MIB = 512;
const GUEST_CPUS = 2;
/** Where guest-init.sh finds the server: qemu forwards this address to the socket. */
const GUEST_SERVER_ADDRESS = '10.0.2.100';
const GUEST_SERVER_PORT = 10809;
/** Plain path characters only: the path goes through qemu's option parser, sh and socat. */
const SOCKET_PATH_PATTERN = /^[A-Za-z0-9._/-]+$/;
/** Kernel command line words are split on spaces; guest-init.sh takes the name as one word. */
const EXPORT_NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

export interface KernelVmFiles {
  kernelPath: string;
  initramfsPath: string;
}

/** Runs prepare.sh (cached: quick after the first time) and reads the paths it prints. */
export async function prepareKernelVm(options: { cacheDirectory?: string } = {}): Promise<KernelVmFiles> {
  const args = [PREPARE_SCRIPT, ...(options.cacheDirectory === undefined ? [] : [options.cacheDirectory])];
  const { exitCode, stdout, stderr } = await runToEnd({ command: 'bash', args, timeoutMs: PREPARE_TIMEOUT_MS });
  if (exitCode !== 0) throw new Error(`kernel-vm prepare.sh failed (${exitCode ?? 'killed'}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const kernelPath = /^kernel=(.+)$/m.exec(stdout)?.[1];
  const initramfsPath = /^initramfs=(.+)$/m.exec(stdout)?.[1];
  assert(kernelPath !== undefined && initramfsPath !== undefined, `prepare.sh printed no paths: ${stdout}`);
  return { kernelPath, initramfsPath };
}

export function qemuArguments(options: RunGuestOptions & KernelVmFiles): string[] {
  assert(SOCKET_PATH_PATTERN.test(options.socketPath), `socket path ${options.socketPath} must match ${SOCKET_PATH_PATTERN}`);
  assert(options.exportName === undefined || EXPORT_NAME_PATTERN.test(options.exportName),
    `export name ${options.exportName} must match ${EXPORT_NAME_PATTERN}`);
  const kernelCommandLine = [
    'console=ttyS0', 'panic=-1', 'quiet', 'loglevel=4',
    `lsvd.phase=${options.phase}`,
    ...(options.exportName === undefined ? [] : [`lsvd.export=${options.exportName}`]),
  ].join(' ');
  const forward = `guestfwd=tcp:${GUEST_SERVER_ADDRESS}:${GUEST_SERVER_PORT}-cmd:socat - UNIX-CONNECT:${options.socketPath}`;
  return [
    '-accel', 'tcg', '-M', 'q35', '-m', String(GUEST_MEMORY_MIB), '-smp', String(GUEST_CPUS),
    '-nographic', '-no-reboot',
    '-kernel', options.kernelPath, '-initrd', options.initramfsPath, '-append', kernelCommandLine,
    '-netdev', `user,id=n0,restrict=on,${forward}`,
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ];
}

/** guest-init.sh ends with exactly one "@@ [t] RESULT: ..." line. */
export function guestPassed(console: string): boolean {
  return /^@@ \[[\d.]+s\] RESULT: PASS\r?$/m.test(console) && !/^@@ \[[\d.]+s\] RESULT: FAIL/m.test(console);
}

/** The "@@ SUM <sha256>  <path>" lines a phase printed, as path → sha256. */
export function guestChecksums(console: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const match of console.matchAll(/^@@ SUM ([0-9a-f]{64}) {2}(\S+)\r?$/gm)) {
    if (match[1] !== undefined && match[2] !== undefined) sums.set(match[2], match[1]);
  }
  return sums;
}

export async function runGuest(options: RunGuestOptions): Promise<GuestRun> {
  const files = await prepareKernelVm();
  const startedMs = performance.now();
  const result = await runToEnd({ command: 'qemu-system-x86_64', args: qemuArguments({ ...options, ...files }), timeoutMs: options.timeoutMs });
  const wallMs = performance.now() - startedMs;
  const ending = result.timedOut ? `\n[run-guest] killed after ${options.timeoutMs} ms\n` : '';
  const console = result.stdout + (result.stderr === '' ? '' : `\n[qemu stderr]\n${result.stderr}`) + ending;
  if (options.logPath !== undefined) await writeFile(options.logPath, console);
  return { passed: !result.timedOut && guestPassed(console), console, wallMs };
}

interface ProcessResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

async function runToEnd(options: { command: string; args: string[]; timeoutMs: number }): Promise<ProcessResult> {
  return new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ exitCode, stdout, stderr, timedOut });
    });
  });
}
