import { InputError } from '../errors.js';

/**
 * drio ids (`app_123`, UUIDs, slugs) as they may appear in a URL path. Starting with a letter or
 * digit rules out `.` and `..`, which URL parsing would resolve to another route even when
 * percent-encoded; `/`, `?`, `#`, `%` and spaces are outside the charset.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
export const ID_MAX_LENGTH = 128;

/** Checks an id bound for a URL path and returns it encoded as exactly one segment. Throws InputError. */
export function pathSegment(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ID_MAX_LENGTH) {
    throw new InputError([{ path: field, message: `must be 1 to ${ID_MAX_LENGTH} characters` }]);
  }
  if (!ID_PATTERN.test(value)) {
    throw new InputError([
      { path: field, message: 'may contain only letters, digits, "_", "-", "." and ":", and must start with a letter or digit' },
    ]);
  }
  // The charset needs no encoding today; encoding anyway keeps this safe if the pattern is widened.
  return encodeURIComponent(value);
}
