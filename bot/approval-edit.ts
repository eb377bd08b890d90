import type pg from 'pg';
import type { Logger } from 'pino';
import type { ConnectorRuntime } from '../connectors/connector-runtime.ts';
import { approvalCard } from '../core/cards.ts';
import type { Action, Channel } from '../core/domain.ts';
import { SpineError } from '../core/errors.ts';
import type { ChatSender } from '../core/message.ts';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { withTransaction } from '../db/transaction.ts';

/** A parameter the operator may change before approving: top-level text values only. */
export interface EditableField {
  key: string;
  value: string;
  multiline: boolean;
}

export type EditTarget =
  | { kind: 'editable'; approvalId: number; action: Action; fields: EditableField[] }
  | { kind: 'refused'; reason: string };

export type EditOutcome = { kind: 'edited'; action: Action } | { kind: 'refused'; reason: string };

export interface ApprovalEditorDeps {
  pool: pg.Pool;
  connectors: ConnectorRuntime;
  chat: ChatSender;
  logger: Logger;
}

/**
 * Edit an action's parameters before it is approved (Slack's Edit button). Only the operator who
 * owns the approval may edit, only while it is pending; the new parameters go through the
 * connector's validation and dry-run again (`prepare`), are written under a lock on the pending
 * approval (a concurrent Approve waits and then approves the edited version, which every card
 * shows), and the edit is logged as an event with the old and new values.
 */
export class ApprovalEditor {
  readonly #deps: ApprovalEditorDeps;
  readonly #repos: Repositories;

  constructor(deps: ApprovalEditorDeps) {
    this.#deps = deps;
    this.#repos = createRepositories(deps.pool);
  }

  /** The fields a user may edit, after checking who asks. */
  async target(approvalId: number, channel: Channel, userId: string): Promise<EditTarget> {
    const identity = await this.#repos.operators.findIdentity(channel, userId);
    const approval = await this.#repos.approvals.get(approvalId);
    if (!identity || !approval || approval.operatorId !== identity.operatorId) {
      this.#deps.logger.warn(
        { channel, userId, approvalId },
        'refused an edit from someone who does not own the approval',
      );
      return { kind: 'refused', reason: 'Only my operator can edit this, and only their own approvals.' };
    }
    if (approval.status !== 'pending')
      return { kind: 'refused', reason: `Approval #${approvalId} was already ${approval.status}.` };
    const action = await this.#repos.actions.get(approval.actionId);
    if (!action) return { kind: 'refused', reason: 'That action no longer exists.' };
    const fields = Object.entries(action.params)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .map(([key, value]) => ({ key, value, multiline: value.length > 80 || value.includes('\n') }))
      // In the order the card shows them (jsonb does not keep key order).
      .sort((a, b) => previewRank(action, a.key) - previewRank(action, b.key));
    return { kind: 'editable', approvalId, action, fields };
  }

  /** Validate and store edited values; re-render every card of the approval. */
  async apply(
    approvalId: number,
    channel: Channel,
    userId: string,
    values: Record<string, string>,
  ): Promise<EditOutcome> {
    const target = await this.target(approvalId, channel, userId);
    if (target.kind === 'refused') return target;
    const { action } = target;
    const editable = new Set(target.fields.map((field) => field.key));
    const changes = Object.entries(values).filter(
      ([key, value]) => editable.has(key) && action.params[key] !== value,
    );
    if (changes.length === 0) return { kind: 'edited', action };
    const prepared = await this.#deps.connectors
      .prepare({
        connector: action.connector,
        operation: action.operation,
        params: { ...action.params, ...Object.fromEntries(changes) },
        why: action.why,
      })
      .catch((error: unknown) => {
        if (error instanceof SpineError && error.code === 'connector.invalid_params') return error;
        throw error;
      });
    if (prepared instanceof SpineError) return { kind: 'refused', reason: prepared.message };

    const updated = await withTransaction(this.#deps.pool, async (client) => {
      // Lock the approval while it is pending: the decision compare-and-set waits for this edit.
      const locked = await client.query(
        `SELECT id FROM approvals WHERE id = $1 AND status = 'pending' FOR UPDATE`,
        [approvalId],
      );
      if (locked.rowCount === 0) return null;
      const result = await client.query(
        `UPDATE actions SET params = $2, params_hash = $3, preview = $4 WHERE id = $1 AND status = 'awaiting_approval' RETURNING id`,
        [action.id, JSON.stringify(prepared.params), prepared.paramsHash, JSON.stringify(prepared.preview)],
      );
      if (result.rowCount === 0) return null;
      const repos = createRepositories(client);
      // The cards are re-rendered with these values below: the approval now stands for them.
      await repos.approvals.rebind(approvalId, prepared.paramsHash);
      await repos.events.append({
        operatorId: action.operatorId,
        actor: 'operator',
        verb: 'edited',
        object: prepared.preview.doing,
        why: `changed ${changes.map(([key]) => key).join(', ')} before approving`,
        ref: `approval #${approvalId}`,
        goalId: action.goalId,
        actionId: action.id,
        channel,
        payload: {
          before: Object.fromEntries(changes.map(([key]) => [key, action.params[key]])),
          after: Object.fromEntries(changes),
        },
      });
      return true;
    });
    if (!updated)
      return {
        kind: 'refused',
        reason: `Approval #${approvalId} was decided meanwhile; nothing was changed.`,
      };
    const edited = await this.#repos.actions.get(action.id);
    const approval = await this.#repos.approvals.get(approvalId);
    if (!edited || !approval) return { kind: 'refused', reason: 'That action no longer exists.' };
    const card = approvalCard(edited, approval, 'edited by you; approve to run it');
    for (const ref of approval.cards) {
      await this.#deps.chat.update(ref, card).catch((error: unknown) => {
        this.#deps.logger.warn(
          { err: String(error), approvalId },
          'could not update an approval card after an edit',
        );
      });
    }
    return { kind: 'edited', action: edited };
  }
}

function previewRank(action: Action, key: string): number {
  const index = action.preview.fields.findIndex((field) => field.label.toLowerCase() === key.toLowerCase());
  return index < 0 ? Number.MAX_SAFE_INTEGER : index;
}
