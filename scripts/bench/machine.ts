/** What a benchmark figure was measured on: recorded with every result. */

import { cpus, release, totalmem } from 'node:os';
import { runCommand } from './processes.js';

const VERSION_COMMAND_TIMEOUT_MS = 10_000;

export interface MachineInfo {
  cpuModel: string;
  cpuCores: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  /** `fio --version` and friends; `missing` when the tool is not installed. */
  tools: Record<string, string>;
}

const TOOL_VERSION_COMMANDS: Record<string, string[]> = {
  fio: ['fio', '--version'],
  nbdkit: ['nbdkit', '--version'],
  nbdfuse: ['nbdfuse', '--version'],
  s3backer: ['s3backer', '--version'],
};

async function toolVersion(command: string[]): Promise<string> {
  const [executable, ...args] = command;
  if (executable === undefined) {
    return 'missing';
  }
  try {
    const result = await runCommand({ command: executable, args, timeoutMs: VERSION_COMMAND_TIMEOUT_MS });
    return (result.stdout.trim() || result.stderr.trim()).split('\n')[0] ?? 'unknown';
  } catch {
    return 'missing';
  }
}

export async function describeMachine(): Promise<MachineInfo> {
  const processors = cpus();
  const tools: Record<string, string> = {};
  for (const [name, command] of Object.entries(TOOL_VERSION_COMMANDS)) {
    tools[name] = await toolVersion(command);
  }
  return {
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cpuCores: processors.length,
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    tools,
  };
}

export function describeMachineInOneLine(machine: MachineInfo): string {
  const memoryGib = (machine.memoryBytes / 2 ** 30).toFixed(1);
  return `${machine.cpuModel}, ${machine.cpuCores} cores, ${memoryGib} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}`;
}
