import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { Channel } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import type { Queryable } from '../db/database.ts';
import { createRepositories } from '../db/repositories/index.ts';

/** How long a login link works, and how long a console session lasts. */
export const LOGIN_TOKEN_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 7 * 86_400_000;

/** A logged-in browser: the operator, and the chat identity whose link opened it. */
export interface ConsoleSession {
  operatorId: number;
  channel: Channel;
  externalId: string;
  expiresAt: Date;
}

export type LoginOutcome =
  | { kind: 'logged_in'; sessionId: string; session: ConsoleSession }
  | { kind: 'refused'; reason: string };

export interface ConsoleAuthOptions {
  db: Queryable;
  clock: Clock;
  /** Where the console is reachable, e.g. https://spine.example.com (no trailing slash). */
  baseUrl: string;
  tokenTtlMs?: number;
  sessionTtlMs?: number;
}

/** SHA-256 of a secret, hex: only hashes of tokens and session ids are stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The session's CSRF token: derived from the session id, so only its holder can compute it. */
export function csrfTokenFor(sessionId: string): string {
  return createHash('sha256').update(`csrf:${sessionId}`).digest('base64url');
}

/** Compare a submitted CSRF token with the session's in constant time. */
export function csrfTokenMatches(sessionId: string, submitted: string | undefined): boolean {
  if (!submitted) return false;
  const expected = Buffer.from(csrfTokenFor(sessionId));
  const given = Buffer.from(submitted);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * One-time login links and browser sessions for the web console. A link is issued only to one of
 * the operator's chat identities, works once, within ten minutes; the session it opens lasts a week
 * and ends early when that identity is revoked (taken out of SPINE_OWNER) or on logout.
 */
export class ConsoleAuth {
  readonly #options: ConsoleAuthOptions;

  constructor(options: ConsoleAuthOptions) {
    this.#options = options;
  }

  /** True when cookies must be `Secure` (the console is served over https). */
  get secure(): boolean {
    return this.#options.baseUrl.startsWith('https:');
  }

  /** A one-time login link for a chat identity; refused for anyone who is not an operator's identity. */
  async issueLink(channel: Channel, externalId: string): Promise<string> {
    const identity = await createRepositories(this.#options.db).operators.findIdentity(channel, externalId);
    if (!identity)
      throw new SpineError(
        'console.not_operator',
        'Only the operator can open the web console: ask from one of your own chat accounts.',
        { category: 'user' },
      );
    const token = randomBytes(32).toString('base64url');
    const now = this.#options.clock.now();
    await this.#options.db.query(
      `INSERT INTO console_login_tokens (token_hash, operator_id, channel, external_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        hashSecret(token),
        identity.operatorId,
        channel,
        externalId,
        now,
        new Date(now.getTime() + (this.#options.tokenTtlMs ?? LOGIN_TOKEN_TTL_MS)),
      ],
    );
    return `${this.#options.baseUrl}/console/login?token=${token}`;
  }

  /**
   * Exchange a login token for a session. The token is spent by a compare-and-set (of two
   * concurrent uses, one wins); it must be unexpired and its identity must still be the operator's.
   */
  async login(token: string): Promise<LoginOutcome> {
    const refused = {
      kind: 'refused',
      reason: 'This login link is invalid, expired or already used. Type `console` in chat for a new one.',
    } as const;
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return refused;
    const { db, clock } = this.#options;
    const now = clock.now();
    const spent = await db.query(
      `UPDATE console_login_tokens SET used_at = $2
       WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *`,
      [hashSecret(token), now],
    );
    const row = spent.rows[0];
    if (!row) return refused;
    const repos = createRepositories(db);
    const identity = await repos.operators.findIdentity(row.channel, row.external_id);
    if (!identity || identity.operatorId !== Number(row.operator_id)) return refused;
    const sessionId = randomBytes(32).toString('base64url');
    const session: ConsoleSession = {
      operatorId: identity.operatorId,
      channel: identity.channel,
      externalId: identity.externalId,
      expiresAt: new Date(now.getTime() + (this.#options.sessionTtlMs ?? SESSION_TTL_MS)),
    };
    await db.query(
      `INSERT INTO console_sessions (id_hash, operator_id, channel, external_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        hashSecret(sessionId),
        session.operatorId,
        session.channel,
        session.externalId,
        now,
        session.expiresAt,
      ],
    );
    // Decisions made in the console go through intake as channel `web`, as this identity.
    await db.query(
      `INSERT INTO identities (channel, external_id, operator_id, display_name) VALUES ('web', $1, $2, $3)
       ON CONFLICT (channel, external_id) DO UPDATE SET operator_id = EXCLUDED.operator_id,
         display_name = EXCLUDED.display_name`,
      [webUserId(session), session.operatorId, identity.displayName],
    );
    await repos.events.append({
      operatorId: session.operatorId,
      actor: 'operator',
      verb: 'logged in to',
      object: 'the web console',
      why: null,
      ref: null,
      channel: session.channel,
      at: now,
    });
    return { kind: 'logged_in', sessionId, session };
  }

  /** The live session for a cookie value, or null (unknown, expired, ended, or identity revoked). */
  async session(sessionId: string | undefined): Promise<ConsoleSession | null> {
    if (!sessionId || !/^[A-Za-z0-9_-]{20,100}$/.test(sessionId)) return null;
    const result = await this.#options.db.query(
      `SELECT s.* FROM console_sessions s
       JOIN identities i ON i.channel = s.channel AND i.external_id = s.external_id AND i.operator_id = s.operator_id
       WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2`,
      [hashSecret(sessionId), this.#options.clock.now()],
    );
    const row = result.rows[0];
    if (!row) return null;
    return {
      operatorId: Number(row.operator_id),
      channel: row.channel as Channel,
      externalId: String(row.external_id),
      expiresAt: new Date(row.expires_at),
    };
  }

  /** Delete links that were used or expired and sessions that ended or expired; returns how many. */
  async sweep(now: Date): Promise<number> {
    const tokens = await this.#options.db.query(
      'DELETE FROM console_login_tokens WHERE used_at IS NOT NULL OR expires_at <= $1',
      [now],
    );
    const sessions = await this.#options.db.query(
      'DELETE FROM console_sessions WHERE ended_at IS NOT NULL OR expires_at <= $1',
      [now],
    );
    return (tokens.rowCount ?? 0) + (sessions.rowCount ?? 0);
  }

  /** End a session (logout); logged as an event. */
  async logout(sessionId: string): Promise<void> {
    const ended = await this.#options.db.query(
      `UPDATE console_sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL RETURNING *`,
      [hashSecret(sessionId), this.#options.clock.now()],
    );
    const row = ended.rows[0];
    if (!row) return;
    await createRepositories(this.#options.db).events.append({
      operatorId: Number(row.operator_id),
      actor: 'operator',
      verb: 'logged out of',
      object: 'the web console',
      channel: row.channel as Channel,
    });
  }
}

/** The user id the console acts as on channel `web`: the chat identity that logged in. */
export function webUserId(session: Pick<ConsoleSession, 'channel' | 'externalId'>): string {
  return `${session.channel}:${session.externalId}`;
}
