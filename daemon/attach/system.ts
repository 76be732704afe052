/**
 * Small looks at the running kernel's state: mounts, block device sizes, and waiting for a
 * condition that becomes true asynchronously.
 */
import assert from 'node:assert/strict';
import { readFile, realpath } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { POLL_INTERVAL_MS } from './limits.js';

/** proc(5) /proc/pid/mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue". */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separatorIndex = fields.indexOf('-');
    const mountPoint = fields[4];
    const fsType = fields[separatorIndex + 1];
    const source = fields[separatorIndex + 2];
    if (separatorIndex < 0 || mountPoint === undefined || fsType === undefined || source === undefined) continue;
    mounts.push({ mountPoint: unescapeMountField(mountPoint), fsType, source: unescapeMountField(source) });
  }
  return mounts;
}

export async function isMountPoint(path: string): Promise<boolean> {
  const wanted = resolve(path);
  return (await readMounts()).some((mount) => mount.mountPoint === wanted);
}

/** The kernel's name for a block device path: /dev/loop3 → loop3 (following symlinks). */
export async function blockDeviceName(devicePath: string): Promise<string> {
  return basename(await realpath(devicePath));
}

/** sysfs-block(5): /sys/class/block/<dev>/size is in 512-byte units whatever the sector size. */
export async function blockDeviceSizeBytes(devicePath: string): Promise<number> {
  const name = await blockDeviceName(devicePath);
  const sizeUnits = Number.parseInt(await readFile(`/sys/class/block/${name}/size`, 'utf8'), 10);
  assert(Number.isSafeInteger(sizeUnits), `sysfs size of ${name} is not a number`);
  return sizeUnits * 512;
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await realpath(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `check` until it answers true or `timeoutMs` worth of polls have passed. Counts polls
 * instead of reading the clock, so nothing here depends on wall time directly.
 */
export async function waitUntil(options: { check: () => Promise<boolean>; timeoutMs: number }): Promise<boolean> {
  const pollsMax = Math.max(1, Math.ceil(options.timeoutMs / POLL_INTERVAL_MS));
  for (let poll = 0; poll < pollsMax; poll += 1) {
    if (await options.check()) return true;
    await sleep(POLL_INTERVAL_MS);
  }
  return options.check();
}

/** Whether `promise` settles within `timeoutMs`; the timer is cleared either way. */
export async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
