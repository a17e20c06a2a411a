import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { checkSecureUrl, DEFAULT_API_URL, loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

describe('loadConfig', () => {
  it('defaults to getdrio.com, an XDG config dir, and sensible waits', () => {
    const config = loadConfig({ HOME: homedir() });
    expect(config.apiUrl).toBe(DEFAULT_API_URL);
    expect(config.configDir.endsWith('drio-mcp')).toBe(true);
    expect(config.loginWaitMs).toBe(45_000);
    expect(config.loginTimeoutMs).toBe(300_000);
    expect(config.callbackPort).toBeUndefined();
    expect(config.openBrowser).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets DRIO_MCP_CONFIG_DIR override the config dir', () => {
    expect(loadConfig({ DRIO_MCP_CONFIG_DIR: '/tmp/x/drio' }).configDir).toBe('/tmp/x/drio');
  });

  it('honours XDG_CONFIG_HOME (through env-paths)', () => {
    const previous = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = '/tmp/xdg-test-home';
    try {
      expect(loadConfig({}).configDir).toBe(join('/tmp/xdg-test-home', 'drio-mcp'));
    } finally {
      if (previous === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = previous;
    }
  });

  it('strips a trailing slash and accepts http only on loopback', () => {
    expect(loadConfig({ DRIO_API_URL: 'http://127.0.0.1:8080/' }).apiUrl).toBe('http://127.0.0.1:8080');
    expect(loadConfig({ DRIO_API_URL: 'http://[::1]:8080' }).apiUrl).toBe('http://[::1]:8080');
    expect(loadConfig({ DRIO_API_URL: 'http://localhost:1' }).apiUrl).toBe('http://localhost:1');
    expect(() => loadConfig({ DRIO_API_URL: 'http://getdrio.com' })).toThrow(/must use https/);
    expect(() => loadConfig({ DRIO_API_URL: 'ftp://getdrio.com' })).toThrow(ConfigError);
    expect(() => loadConfig({ DRIO_API_URL: 'not a url' })).toThrow(/not a valid URL/);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ DRIO_MCP_CALLBACK_PORT: '70000' })).toThrow(/DRIO_MCP_CALLBACK_PORT/);
    expect(() => loadConfig({ DRIO_MCP_LOG_LEVEL: 'loud' })).toThrow(/DRIO_MCP_LOG_LEVEL/);
    expect(() => loadConfig({ DRIO_MCP_LOGIN_WAIT_SECONDS: 'soon' })).toThrow(/DRIO_MCP_LOGIN_WAIT_SECONDS/);
  });

  it('reads the numeric and boolean knobs', () => {
    const config = loadConfig({
      DRIO_MCP_CALLBACK_PORT: '33418',
      DRIO_MCP_LOGIN_WAIT_SECONDS: '5',
      DRIO_MCP_REQUEST_TIMEOUT_SECONDS: '7',
      DRIO_MCP_NO_BROWSER: '1',
      DRIO_MCP_LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({ callbackPort: 33418, loginWaitMs: 5000, requestTimeoutMs: 7000, openBrowser: false, logLevel: 'debug' });
    expect(loadConfig({ DRIO_MCP_NO_BROWSER: 'false' }).openBrowser).toBe(true);
  });
});

describe('checkSecureUrl', () => {
  it('refuses plain http to a non-loopback host', () => {
    expect(checkSecureUrl('https://auth.example.com', 'issuer').host).toBe('auth.example.com');
    expect(() => checkSecureUrl('http://10.0.0.1', 'issuer')).toThrow(/issuer must use https/);
  });
});
