/** Plain-text tables for the operator tools: right-aligned numbers, left-aligned text. */

export interface Column<Row> {
  title: string;
  value: (row: Row) => string | number;
  /** Default: numbers right, text left. */
  align?: 'left' | 'right';
}

export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string[] {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) => Math.max(column.title.length, ...cells.map((rowCells) => String(rowCells[index]).length)));
  const line = (values: readonly (string | number)[]) =>
    values
      .map((value, index) => {
        const width = widths[index] ?? 0;
        const align = columns[index]?.align ?? (typeof value === 'number' ? 'right' : 'left');
        return align === 'right' ? String(value).padStart(width) : String(value).padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.title)), ...cells.map(line)];
}
