/**
 * Benchmark results: each figure is the median of its runs; a row compares lsvd with a reference
 * (another system, a bound, or a published figure) and says whether lsvd met its goal.
 * One table for people, one JSON document for machines.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { MachineInfo } from './machine.js';

export interface Measurement {
  median: number;
  /** Every run's figure, in run order. */
  samples: number[];
}

export type Goal =
  /** lsvd / reference must be at least this. */
  | { kind: 'ratio-at-least'; ratio: number }
  | { kind: 'at-least'; value: number }
  | { kind: 'at-most'; value: number }
  /** A figure recorded for context, with nothing to meet. */
  | { kind: 'none' };

export interface ResultRow {
  scenario: string;
  metric: string;
  /** e.g. `MiB/s`, `IOPS`, `s`, `MiB/GiB`. */
  unit: string;
  lsvd?: Measurement;
  reference?: Measurement;
  /** What the reference is: `nbdkit memory`, `s3backer 4 KiB blocks`, `QD / latency`. */
  referenceLabel: string;
  goal: Goal;
  /** Why lsvd has no figure: `not run: <reason>` or `failed: <error>`. */
  notRun?: string;
  /** Why the reference has no figure. */
  referenceNotRun?: string;
  note?: string;
}

export interface EvaluatedRow extends ResultRow {
  ratio?: number;
  /** Undefined when there is nothing to judge (a figure is missing, or the goal is `none`). */
  met?: boolean;
}

export function median(samples: readonly number[]): number {
  assert(samples.length > 0, 'the median of no samples');
  const sorted = [...samples].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  // An even count takes the mean of the two middle values.
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function measurement(samples: readonly number[]): Measurement {
  return { median: median(samples), samples: [...samples] };
}

export function evaluateRow(row: ResultRow): EvaluatedRow {
  const lsvd = row.lsvd?.median;
  const reference = row.reference?.median;
  const ratio = lsvd !== undefined && reference !== undefined && reference !== 0 ? lsvd / reference : undefined;
  let met: boolean | undefined;
  if (row.goal.kind === 'ratio-at-least' && ratio !== undefined) {
    met = ratio >= row.goal.ratio;
  } else if (row.goal.kind === 'at-least' && lsvd !== undefined) {
    met = lsvd >= row.goal.value;
  } else if (row.goal.kind === 'at-most' && lsvd !== undefined) {
    met = lsvd <= row.goal.value;
  }
  const evaluated: EvaluatedRow = { ...row };
  if (ratio !== undefined) {
    evaluated.ratio = ratio;
  }
  if (met !== undefined) {
    evaluated.met = met;
  }
  return evaluated;
}

/** Three significant figures, without exponent notation for the magnitudes a benchmark sees. */
export function formatNumber(value: number): string {
  if (value === 0 || !Number.isFinite(value)) {
    return String(value);
  }
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, 2 - magnitude);
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

export function describeGoal(goal: Goal, unit: string): string {
  switch (goal.kind) {
    case 'ratio-at-least':
      return `≥ ${goal.ratio}× ref`;
    case 'at-least':
      return `≥ ${formatNumber(goal.value)} ${unit}`;
    case 'at-most':
      return `≤ ${formatNumber(goal.value)} ${unit}`;
    case 'none':
      return '—';
  }
}

function cell(value: Measurement | undefined, unit: string): string {
  return value === undefined ? '—' : `${formatNumber(value.median)} ${unit}`;
}

export function tableCells(row: EvaluatedRow): string[] {
  const lsvdCell = row.lsvd !== undefined ? cell(row.lsvd, row.unit) : row.notRun !== undefined ? 'not run' : '—';
  const referenceCell =
    row.reference !== undefined
      ? `${cell(row.reference, row.unit)} (${row.referenceLabel})`
      : row.referenceNotRun !== undefined
        ? `not run (${row.referenceLabel})`
        : row.referenceLabel || '—';
  const metCell = row.met === undefined ? (row.goal.kind === 'none' ? '' : 'pending') : row.met ? 'yes' : 'NO';
  return [
    `${row.scenario}: ${row.metric}`,
    lsvdCell,
    referenceCell,
    row.ratio === undefined ? '—' : `${formatNumber(row.ratio)}×`,
    describeGoal(row.goal, row.unit),
    metCell,
  ];
}

const TABLE_HEADER = ['scenario', 'lsvd', 'reference', 'ratio', 'goal', 'met?'];

/** A plain-text table, then one line per row that was not run, saying why. */
export function formatTable(rows: readonly EvaluatedRow[]): string {
  const lines = [TABLE_HEADER, ...rows.map(tableCells)];
  const widths = TABLE_HEADER.map((_, column) => Math.max(...lines.map((line) => (line[column] ?? '').length)));
  const render = (line: string[]): string => line.map((text, column) => text.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  const output = [render(TABLE_HEADER), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map((row) => render(tableCells(row)))];
  const reasons = rows.flatMap((row) => [
    ...(row.notRun === undefined ? [] : [`  ${row.scenario}: ${row.metric}: lsvd ${row.notRun}`]),
    ...(row.referenceNotRun === undefined ? [] : [`  ${row.scenario}: ${row.metric}: ${row.referenceLabel} ${row.referenceNotRun}`]),
  ]);
  if (reasons.length > 0) {
    output.push('', 'Not run:', ...[...new Set(reasons)]);
  }
  return output.join('\n');
}

/** The same table in Markdown, for docs/BENCHMARKS.md. */
export function formatMarkdownTable(rows: readonly EvaluatedRow[]): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  const output = [`| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map(() => '---').join('|')}|`];
  for (const row of rows) {
    output.push(`| ${tableCells(row).map(escape).join(' | ')} |`);
  }
  return output.join('\n');
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  /** The command line that produced the report. */
  command: string;
  options: Record<string, unknown>;
  machine: MachineInfo;
  rows: EvaluatedRow[];
  /** Scenario failures and cleanup problems, in words. */
  problems: string[];
}

export async function writeJsonReport(path: string, report: BenchReport): Promise<void> {
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
}
