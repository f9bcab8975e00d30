/**
 * Rendering helpers for bench output that docs/benchmarks.md carries verbatim: markdown tables
 * and a small ASCII line plot (x = a size such as the number of terminals, one mark per series,
 * optional horizontal budget lines), so a curve is visible in a plain-text document.
 */

const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A markdown table; cells are escaped. */
export function mdTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

export interface Series {
  readonly label: string;
  readonly mark: string;
  readonly values: readonly (number | undefined)[];
}

/**
 * An ASCII plot of `series` against `xs` (x placed proportionally), with `budgets` drawn as
 * dashed horizontal lines. Height and width in characters.
 */
export function asciiChart(xs: readonly number[], series: readonly Series[], opts: { budgets?: readonly { label: string; value: number }[]; height?: number; width?: number } = {}): string {
  const height = opts.height ?? 14;
  const width = opts.width ?? 60;
  const all = [...series.flatMap((s) => s.values.filter((v): v is number => v !== undefined)), ...(opts.budgets ?? []).map((b) => b.value)];
  const top = Math.max(1e-9, ...all) * 1.1;
  const xMax = Math.max(1, ...xs);
  const grid = Array.from({ length: height }, () => Array.from({ length: width }, () => ' '));
  const rowOf = (v: number): number => Math.min(height - 1, Math.max(0, height - 1 - Math.round((v / top) * (height - 1))));
  const colOf = (x: number): number => Math.min(width - 1, Math.round((x / xMax) * (width - 1)));
  for (const b of opts.budgets ?? []) {
    const r = rowOf(b.value);
    for (let c = 0; c < width; c += 2) grid[r]![c] = '-';
  }
  for (const s of series) {
    let prev: [number, number] | undefined;
    s.values.forEach((v, i) => {
      if (v === undefined) { prev = undefined; return; }
      const r = rowOf(v);
      const c = colOf(xs[i]!);
      if (prev !== undefined) {
        // A dotted segment from the previous point.
        const [pr, pc] = prev;
        for (let k = 1; k < c - pc; k++) {
          const rr = Math.round(pr + ((r - pr) * k) / (c - pc));
          if (grid[rr]![pc + k] === ' ') grid[rr]![pc + k] = '.';
        }
      }
      grid[r]![c] = s.mark;
      prev = [r, c];
    });
  }
  const label = (r: number): string => ((top * (height - 1 - r)) / (height - 1)).toFixed(1).padStart(6);
  const lines = grid.map((row, r) => `${r % 3 === 0 || r === height - 1 ? label(r) : '      '} |${row.join('').trimEnd()}`);
  lines.push(`${' '.repeat(6)} +${'-'.repeat(width)}`);
  const axis = Array.from({ length: width + 8 }, () => ' ');
  for (const x of xs) {
    const t = String(x);
    const c = 8 + colOf(x) - Math.floor(t.length / 2);
    for (let k = 0; k < t.length; k++) if (c + k >= 0 && c + k < axis.length) axis[c + k] = t[k]!;
  }
  lines.push(axis.join('').trimEnd());
  lines.push(`${' '.repeat(8)}terminals; ${series.map((s) => `${s.mark} ${s.label}`).join(', ')}${(opts.budgets ?? []).length > 0 ? `; - - ${(opts.budgets ?? []).map((b) => b.label).join(', ')}` : ''}`);
  return lines.join('\n');
}
