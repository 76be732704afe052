/**
 * What `lsvd inspect` reads and prints, apart from where the bytes come from: a log object's
 * entries with each one's data offset, and the zero ranges of its companion.
 */

import { HEADER_SIZE_BYTES } from '../logformat/limits.js';
import type { DecodeContext, LogEntry } from '../logformat/log-object.js';
import { checkLogObjectLength, decodeLogHeader, logDataOffsetsBytes } from '../logformat/log-object.js';
import type { ZeroRange } from '../logformat/zero-ranges.js';
import { formatTable } from './table.js';

export interface InspectedEntry extends LogEntry {
  index: number;
  dataOffsetBytes: number;
}

export interface LogObjectReport {
  source: string;
  key: string;
  sequence?: number;
  sizeBytes: number;
  volumeSizeBytes: number;
  entries: InspectedEntry[];
  dataBytes: number;
  /** Present only when the store has a `zeros/<sequence>` companion. */
  zeroRanges?: { key: string; ranges: ZeroRange[] };
}

/** Validates the header against the object's size and lays out where each entry's data is. */
export function inspectHeader(options: { header: Uint8Array; objectSizeBytes: number; context: DecodeContext }): InspectedEntry[] {
  const entries = decodeLogHeader(options.header, options.context);
  checkLogObjectLength(entries, options.objectSizeBytes, options.context);
  const offsetsBytes = logDataOffsetsBytes(entries);
  return entries.map((entry, index) => ({ index, ...entry, dataOffsetBytes: offsetsBytes[index] ?? HEADER_SIZE_BYTES }));
}

export function formatLogObjectReport(report: LogObjectReport): string[] {
  const name = report.sequence === undefined ? report.key : `${report.key} (sequence ${report.sequence})`;
  const lines = [
    `log object ${name} in ${report.source}: ${report.sizeBytes} bytes, ${report.entries.length} entries, ${report.dataBytes} data bytes`,
    ...formatTable(
      [
        { title: 'INDEX', value: (entry: InspectedEntry) => entry.index },
        { title: 'ADDRESS_BYTES', value: (entry: InspectedEntry) => entry.addressBytes },
        { title: 'SIZE_BYTES', value: (entry: InspectedEntry) => entry.sizeBytes },
        { title: 'DATA_OFFSET_BYTES', value: (entry: InspectedEntry) => entry.dataOffsetBytes },
      ],
      report.entries,
    ),
  ];
  if (report.zeroRanges !== undefined) lines.push('', ...formatZeroRanges(report.zeroRanges));
  return lines;
}

export function formatZeroRanges(companion: { key: string; ranges: readonly ZeroRange[] }): string[] {
  return [
    `zero ranges ${companion.key}: ${companion.ranges.length}, applied before the entries`,
    ...formatTable(
      [
        { title: 'INDEX', value: (range: ZeroRange & { index: number }) => range.index },
        { title: 'ADDRESS_BYTES', value: (range: ZeroRange & { index: number }) => range.addressBytes },
        { title: 'SIZE_BYTES', value: (range: ZeroRange & { index: number }) => range.sizeBytes },
      ],
      companion.ranges.map((range, index) => ({ index, ...range })),
    ),
  ];
}
