import pino from 'pino';
import type { Connector } from '../../connectors/connector.ts';
import { ConnectorRuntime, type ConnectorRuntimeOptions } from '../../connectors/connector-runtime.ts';
import type { Action, ActionStatus, ProposedAction } from '../../core/domain.ts';
import type { Database } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { createRepositories, type Repositories } from '../../db/repositories/index.ts';

/** A migrated test database with an operator, a goal, and a connector runtime over given connectors. */
export interface ConnectorHarness {
  repos: Repositories;
  runtime: ConnectorRuntime;
  operatorId: number;
  goalId: number;
  /** Prepare a proposal and store it as an action with the given status (approved by default). */
  store(proposal: ProposedAction, key: string, status?: ActionStatus): Promise<Action>;
}

export async function createConnectorHarness(
  db: Database,
  connectors: Connector[],
  options: Partial<ConnectorRuntimeOptions> = {},
): Promise<ConnectorHarness> {
  await migrate(db.pool, db.schema);
  const repos = createRepositories(db.pool);
  const operator = await repos.operators.ensureOwner({
    name: 'Ada',
    timezone: 'UTC',
    probationDays: 30,
    identities: [{ channel: 'console', externalId: 'local' }],
    now: new Date(),
  });
  const goal = await repos.goals.insert({
    operatorId: operator.id,
    channel: 'console',
    thread: { channel: 'console', conversation: 'local' },
    text: 'test',
    requestedBy: 'console:local',
  });
  const runtime = new ConnectorRuntime(connectors, {
    actions: repos.actions,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  return {
    repos,
    runtime,
    operatorId: operator.id,
    goalId: goal.id,
    async store(proposal, key, status = 'approved') {
      const prepared = await runtime.prepare(proposal);
      const stored = await runtime.record(prepared, {
        goalId: goal.id,
        operatorId: operator.id,
        idempotencyKey: key,
        status,
      });
      await repos.connectorState.annotate(stored.action.id, {
        target: prepared.target,
        amount: prepared.amount,
        scheduledAt: null,
      });
      return (await repos.actions.get(stored.action.id)) ?? stored.action;
    },
  };
}
