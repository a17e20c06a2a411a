/** Small helpers for the human-readable summaries tools return beside their structured results. */

/** Shortens text to `max` characters on one line. */
export function clip(value: unknown, max = 120): string {
  const text = String(value ?? '').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** "1 app", "3 apps". */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** Joins the defined, non-empty parts with `sep`. */
export function join(parts: Array<string | false | null | undefined>, sep = ', '): string {
  return parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join(sep);
}

/** Lists at most `max` lines, then says how many more there are. */
export function bullets(lines: string[], max = 50): string {
  const shown = lines.slice(0, max).map((l) => `- ${l}`);
  if (lines.length > max) shown.push(`- … and ${lines.length - max} more (see the structured result)`);
  return shown.join('\n');
}

/** A label for an object from the first present of name/key/id. */
export function labelOf(item: unknown): string {
  if (item && typeof item === 'object') {
    const r = item as Record<string, unknown>;
    for (const k of ['name', 'key', 'id', 'title']) if (typeof r[k] === 'string' && r[k]) return r[k] as string;
  }
  return clip(JSON.stringify(item), 40);
}
