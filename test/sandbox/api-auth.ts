import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export type AuthResult = { ok: true; sub: string; payload: JWTPayload } | { ok: false; tokenSent: boolean; description: string };

/** Bearer validation against the sandbox AS: signature (remote JWKS), issuer, audience = apiUrl, expiry (no tolerance). */
export function createBearerValidator(opts: { issuer: string; audience: () => string; jwksUri: string; revoked: Set<string> }) {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUri), { cooldownDuration: 0 });
  return async function validate(req: IncomingMessage): Promise<AuthResult> {
    const header = req.headers.authorization;
    if (!header) return { ok: false, tokenSent: false, description: 'Missing bearer token' };
    const m = /^Bearer\s+([^\s]+)\s*$/i.exec(header);
    if (!m) return { ok: false, tokenSent: true, description: 'Authorization header must use the Bearer scheme' };
    const token = m[1]!;
    if (opts.revoked.has(token)) return { ok: false, tokenSent: true, description: 'The access token has been revoked' };
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: opts.audience(),
        clockTolerance: 0,
        requiredClaims: ['exp', 'sub'],
      });
      return { ok: true, sub: String(payload.sub), payload };
    } catch (err) {
      const code = (err as { code?: string }).code;
      const description = code === 'ERR_JWT_EXPIRED' ? 'The access token expired' : 'The access token is invalid';
      return { ok: false, tokenSent: true, description };
    }
  };
}
