/** Summary statistics for a list of samples (milliseconds or bytes). */
export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  return { n: sorted.length, median: at(0.5), p95: at(0.95), min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
}

export const fmtMs = (v: number) => `${v.toFixed(1)} ms`;
export const fmtMiB = (v: number) => `${(v / 1024 / 1024).toFixed(1)} MiB`;
