import { randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { jwtVerify, SignJWT } from 'jose';
import { verify as verifyCrypt } from 'unixcrypt';
import { ApiError } from './http-json.js';

export interface AuthSettings {
  /** `mkpasswd -m sha-512` (or sha-256) output: `$6$salt$hash`. */
  adminPasswordHash: string | undefined;
  /** HMAC key of the tokens; none given: a random one per process (tokens end with it). */
  jwtKey: string | undefined;
  ttlSeconds: number;
  /** A bearer token accepted as is (from the environment, for scripts). */
  apiToken: string | undefined;
}

const unauthorized = (why: string) => new ApiError(401, 'unauthorized', why);

/**
 * The original's login (its admin password, a crypt(3) hash as `mkpasswd`
 * writes it, exchanged for a JWT valid `ttl` seconds), plus a static bearer
 * token for scripts. There is no default password and no default key.
 */
export class Auth {
  private readonly key: Uint8Array;
  /** True when the key was made up at startup (no jwt_key configured). */
  readonly ephemeralKey: boolean;

  constructor(private readonly settings: AuthSettings) {
    const hash = settings.adminPasswordHash;
    if (hash !== undefined && !/^\$[56]\$/.test(hash)) {
      throw new Error(
        'auth.admin_password must be a SHA-512 or SHA-256 crypt hash ($6$... or $5$...): make one with `mkpasswd -m sha-512`',
      );
    }
    this.ephemeralKey = settings.jwtKey === undefined;
    this.key = settings.jwtKey ? new TextEncoder().encode(settings.jwtKey) : randomBytes(32);
  }

  /** Whether anything can authenticate at all (mutations are refused otherwise). */
  get enabled(): boolean {
    return this.settings.adminPasswordHash !== undefined || this.settings.apiToken !== undefined;
  }

  async login(password: unknown): Promise<{ token: string; expires_in: number }> {
    const hash = this.settings.adminPasswordHash;
    if (!hash)
      throw unauthorized(
        'login is disabled: set auth.admin_password (a `mkpasswd -m sha-512` hash)',
      );
    if (typeof password !== 'string' || !verifyCrypt(password, hash))
      throw unauthorized('wrong password');
    const ttl = this.settings.ttlSeconds;
    const token = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('admin')
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .sign(this.key);
    return { token, expires_in: ttl };
  }

  /** Throws 401 unless the request carries a valid token. */
  async check(req: http.IncomingMessage): Promise<void> {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!this.enabled)
      throw unauthorized(
        'changes need authentication and none is configured: set auth.admin_password (and auth.jwt_key) or the KUVASZ_API_TOKEN environment variable',
      );
    if (!m) throw unauthorized('missing Authorization: Bearer <token> (POST /api/login gives one)');
    const token = m[1]!;
    const api = this.settings.apiToken;
    if (api !== undefined) {
      const a = Buffer.from(token);
      const b = Buffer.from(api);
      if (a.length === b.length && timingSafeEqual(a, b)) return;
    }
    try {
      await jwtVerify(token, this.key, { algorithms: ['HS256'] });
    } catch {
      throw unauthorized('invalid or expired token; log in again (POST /api/login)');
    }
  }
}
