import type { Queryable } from '../../db/database.ts';

/** Rows written straight into the tables, for tests of what is computed from them. */
export class LedgerSeed {
  #sequence = 0;

  constructor(private readonly db: Queryable) {}

  async operator(timezone = 'UTC', name = 'Ada'): Promise<number> {
    const result = await this.db.query(
      `INSERT INTO operators (name, timezone, created_at) VALUES ($1, $2, '2026-01-01T00:00:00Z') RETURNING id`,
      [name, timezone],
    );
    return Number(result.rows[0].id);
  }

  async goal(
    operatorId: number,
    input: { status?: string; at?: string; channel?: string; conversation?: string } = {},
  ): Promise<number> {
    const at = input.at ?? '2026-03-01T12:00:00Z';
    const channel = input.channel ?? 'console';
    const result = await this.db.query(
      `INSERT INTO goals (operator_id, channel, thread, text, requested_by, status, created_at, updated_at)
       VALUES ($1, $2, $3, 'a goal', 'test', $4, $5, $5) RETURNING id`,
      [
        operatorId,
        channel,
        JSON.stringify({ channel, conversation: input.conversation ?? 'local' }),
        input.status ?? 'done',
        at,
      ],
    );
    return Number(result.rows[0].id);
  }

  async action(input: {
    goalId: number;
    operatorId: number;
    connector?: string;
    operation?: string;
    status?: string;
    risk?: string;
    at?: string;
    executedAt?: string | null;
    undoOf?: number;
    key?: string;
  }): Promise<number> {
    this.#sequence += 1;
    const status = input.status ?? 'succeeded';
    const at = input.at ?? '2026-03-01T12:00:00Z';
    const executedAt =
      input.executedAt !== undefined
        ? input.executedAt
        : ['succeeded', 'failed'].includes(status)
          ? at
          : null;
    const result = await this.db.query(
      `INSERT INTO actions (goal_id, operator_id, connector, operation, params, params_hash, risk, idempotency_key,
         preview, status, undo_of, created_at, executed_at)
       VALUES ($1, $2, $3, $4, '{}', 'h', $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
      [
        input.goalId,
        input.operatorId,
        input.connector ?? 'email',
        input.operation ?? 'send_email',
        input.risk ?? 'write',
        input.key ?? `seed-${process.pid}-${Date.now()}-${this.#sequence}`,
        JSON.stringify({ title: 'Do it', doing: 'doing it', done: 'did it', fields: [] }),
        status,
        input.undoOf ?? null,
        at,
        executedAt,
      ],
    );
    return Number(result.rows[0].id);
  }

  async approval(input: {
    actionId: number;
    goalId: number;
    operatorId: number;
    status: 'pending' | 'approved' | 'rejected';
    decidedAt?: string;
  }): Promise<number> {
    const result = await this.db.query(
      `INSERT INTO approvals (action_id, goal_id, operator_id, status, decided_at, decided_by)
       VALUES ($1, $2, $3, $4, $5, 'operator') RETURNING id`,
      [input.actionId, input.goalId, input.operatorId, input.status, input.decidedAt ?? null],
    );
    return Number(result.rows[0].id);
  }

  /** The event bot/approval-edit.ts appends when the operator edits an action before approving. */
  async edited(operatorId: number, actionId: number, at: string): Promise<void> {
    await this.db.query(
      `INSERT INTO events (at, operator_id, actor, verb, object, action_id) VALUES ($1, $2, 'operator', 'edited', 'it', $3)`,
      [at, operatorId, actionId],
    );
  }

  async usage(operatorId: number, input: { costUsd: number; at: string; day: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO llm_usage (operator_id, role, purpose, model, cost_usd, day, at)
       VALUES ($1, 'large', 'plan', 'gpt-test', $2, $3, $4)`,
      [operatorId, input.costUsd, input.day, input.at],
    );
  }

  async failure(
    operatorId: number,
    input: { kind?: string; at?: string; actionId?: number; status?: string } = {},
  ): Promise<number> {
    const result = await this.db.query(
      `INSERT INTO failures (operator_id, action_id, kind, message, remediation, status, created_at)
       VALUES ($1, $2, $3, 'it broke', '["retry","dismiss"]', $4, $5) RETURNING id`,
      [
        operatorId,
        input.actionId ?? null,
        input.kind ?? 'action_failed',
        input.status ?? 'open',
        input.at ?? '2026-03-01T12:00:00Z',
      ],
    );
    return Number(result.rows[0].id);
  }
}

/**
 * A business day in New York (UTC-5 in February), with rows placed on both sides of local midnight:
 * 04:30Z on the 11th is 23:30 on the 10th there.
 */
export async function seedTwoDays(seed: LedgerSeed) {
  const operatorId = await seed.operator('America/New_York');
  const goalId = await seed.goal(operatorId);
  // 23:30 local on the 10th: counts for the 10th, not the 11th (UTC's day).
  await seed.action({ goalId, operatorId, at: '2026-02-11T04:30:00Z' });
  // 00:30 local on the 11th, approved at 00:00 local.
  const a2 = await seed.action({ goalId, operatorId, at: '2026-02-11T05:30:00Z' });
  await seed.approval({
    actionId: a2,
    goalId,
    operatorId,
    status: 'approved',
    decidedAt: '2026-02-11T05:00:00Z',
  });
  // Rejected at 23:59 local on the 10th.
  const a7 = await seed.action({ goalId, operatorId, status: 'rejected', at: '2026-02-11T04:58:00Z' });
  await seed.approval({
    actionId: a7,
    goalId,
    operatorId,
    status: 'rejected',
    decidedAt: '2026-02-11T04:59:00Z',
  });
  // A calendar event later undone: executed, but no time saved and one error introduced.
  const a3 = await seed.action({
    goalId,
    operatorId,
    connector: 'calendar',
    operation: 'create_event',
    at: '2026-02-11T15:00:00Z',
  });
  await seed.action({
    goalId,
    operatorId,
    connector: 'calendar',
    operation: 'delete_event',
    undoOf: a3,
    at: '2026-02-11T16:00:00Z',
  });
  // A webhook call that failed, then retried successfully by the operator.
  await seed.action({
    goalId,
    operatorId,
    connector: 'webhook',
    operation: 'post',
    status: 'failed',
    key: 'hook-1',
    at: '2026-02-11T17:00:00Z',
  });
  await seed.action({
    goalId,
    operatorId,
    connector: 'webhook',
    operation: 'post',
    key: 'hook-1-retry-1',
    at: '2026-02-11T17:30:00Z',
  });
  // An e-mail the operator edited before approving it.
  const a5 = await seed.action({ goalId, operatorId, at: '2026-02-11T18:01:00Z' });
  await seed.edited(operatorId, a5, '2026-02-11T17:59:00Z');
  await seed.approval({
    actionId: a5,
    goalId,
    operatorId,
    status: 'approved',
    decidedAt: '2026-02-11T18:00:00Z',
  });
  // A question answered without any action.
  await seed.goal(operatorId, { at: '2026-02-11T12:00:00Z' });
  // Still pending: no decision counted.
  const pending = await seed.action({
    goalId,
    operatorId,
    status: 'awaiting_approval',
    at: '2026-02-11T19:00:00Z',
  });
  await seed.approval({ actionId: pending, goalId, operatorId, status: 'pending' });
  await seed.usage(operatorId, { costUsd: 0.25, at: '2026-02-11T04:00:00Z', day: '2026-02-10' });
  await seed.usage(operatorId, { costUsd: 0.5, at: '2026-02-11T20:00:00Z', day: '2026-02-11' });
  return operatorId;
}
