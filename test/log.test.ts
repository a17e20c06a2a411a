import { describe, expect, it } from 'vitest';
import { createLogger, redact } from '../src/log.js';

describe('redact', () => {
  it('masks JWTs, bearer credentials and OAuth secret fields', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyX2FkYSJ9.c2lnbmF0dXJlLXZhbHVl';
    expect(redact(`token ${jwt} end`)).toBe('token [redacted] end');
    expect(redact('Authorization: Bearer abcdefgh12345678')).toBe('Authorization: Bearer [redacted]');
    expect(redact('{"refresh_token":"rt-0123456789abcdef"}')).toBe('{"refresh_token":"[redacted]"}');
    expect(redact('callback?code=AbCdEf123456&state=s')).toBe('callback?code=[redacted]&state=s');
  });

  it('leaves ordinary text and PKCE challenge parameter names alone', () => {
    const url = 'https://auth.example.com/authorize?code_challenge_method=S256&client_id=abc';
    expect(redact(url)).toBe(url);
    expect(redact('listed 3 apps')).toBe('listed 3 apps');
  });
});

describe('createLogger', () => {
  it('filters by level, redacts, and feeds sinks', () => {
    const lines: string[] = [];
    const seen: string[] = [];
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const remove = logger.addSink((level, message) => seen.push(`${level}:${message}`));
    logger.debug('hidden');
    logger.info('refreshed', { token: 'Bearer abcdefgh12345678' });
    remove();
    logger.warn('after sink removed');
    expect(lines).toEqual([
      'drio-mcp [info] refreshed {"token":"Bearer [redacted]"}\n',
      'drio-mcp [warn] after sink removed\n',
    ]);
    expect(seen).toEqual(['info:refreshed {"token":"Bearer [redacted]"}']);
  });

  it('survives a throwing sink', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    logger.addSink(() => {
      throw new Error('transport closed');
    });
    expect(() => logger.error('still logged')).not.toThrow();
    expect(lines).toHaveLength(1);
  });
});
