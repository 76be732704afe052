/**
 * Attaching a served volume to this machine: as /dev/nbdN through the kernel's NBD client, or
 * through nbdfuse and a loop device where the kernel has no NBD driver; then finding, creating,
 * mounting and growing its ext4 filesystem. Knows only a Unix socket path and an export name.
 * docs/ATTACH.md describes the modes and the commands they run.
 */
export type { AttachedDevice } from './device.js';
export type { AttachErrorCode, AttachErrorDetails } from './errors.js';
export { AttachError } from './errors.js';
export { attachFuse } from './fuse.js';
export { attachKernel, kernelAttachArguments, kernelNbdAvailable } from './kernel.js';
export { growFilesystemIfNeeded, hasFilesystem, makeFilesystem, mkfsExtendedOptions } from './filesystem.js';
export type { MountedFilesystem } from './mount.js';
export { mountFilesystem } from './mount.js';
