/**
 * The contract between the auth layer and its callers (the drio client, the CLI, the MCP server).
 * Types only: importing this file loads nothing, so the OAuth stack stays out of start-up.
 */

export interface GetAccessTokenOptions {
  /**
   * A token drio just rejected with 401. If it is still the current one, refresh (once) instead of
   * returning it again; if another caller or process already rotated it, return the new one.
   */
  rejectedToken?: string;
  /**
   * How long to wait for an interactive login, when one is needed, before rejecting with
   * LoginPendingError (the login goes on in the background). Default: wait for the whole login.
   */
  waitForLoginMs?: number;
  signal?: AbortSignal;
}

/** What drio's client needs from the auth layer. */
export interface TokenSource {
  /** A valid access token: the stored one, a refreshed one, or one from a new browser login. */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string>;
}

/** Shown by `drio-mcp status` and the `auth_status` tool. Never carries a token value. */
export interface AuthStatus {
  apiUrl: string;
  signedIn: boolean;
  /** ISO time the access token expires, if signed in. */
  accessTokenExpiresAt?: string;
  /** True when a refresh token is stored, so expiry is handled silently. */
  canRefresh: boolean;
  issuer?: string;
  clientId?: string;
  storePath: string;
  /** A login waiting for the browser: this process's, or one another drio-mcp process runs for the same store. */
  loginInProgress?: { url: string; startedAt: string };
}

/**
 * How a login URL reaches the user. The auth layer always writes the URL to stderr itself; this
 * hook lets the MCP server use URL-mode elicitation instead of (or besides) opening a browser.
 * Called once per login flow, never per waiting caller, and never in a process that waits for the flow another
 * drio-mcp process runs (one tab per machine). `openBrowser` opens the URL with `open`
 * (a no-op when DRIO_MCP_NO_BROWSER is set); the default presenter just calls it.
 */
export type LoginPresenter = (url: string, openBrowser: () => Promise<void>) => Promise<void> | void;

/** The auth layer's public face. */
export interface AuthSession extends TokenSource {
  status(): Promise<AuthStatus>;
  /** Runs a login now (CLI `drio-mcp login`), even if tokens exist. */
  login(options?: { signal?: AbortSignal }): Promise<void>;
  /** Revokes at the server when advertised, then deletes local tokens. */
  logout(): Promise<{ revoked: boolean }>;
  /** Closes any loopback listener and timers. */
  close(): Promise<void>;
}
