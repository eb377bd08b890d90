import type { Queryable } from '../database.ts';

/** The channels whose identities SPINE_OWNER governs. */
export const OWNER_CHANNELS = ['slack', 'telegram'] as const;

/**
 * Revoke the operator's Slack and Telegram identities that SPINE_OWNER no longer lists: taking an
 * account out of the configuration must take away its right to start goals and decide approvals.
 * Returns the revoked `channel:id` pairs.
 */
export async function revokeUnlistedChatIdentities(
  db: Queryable,
  operatorId: number,
  keep: Array<{ channel: string; externalId: string }>,
): Promise<string[]> {
  const kept = keep.map((identity) => `${identity.channel}:${identity.externalId}`);
  const result = await db.query(
    `DELETE FROM identities WHERE operator_id = $1 AND channel = ANY($2::text[])
       AND NOT (channel || ':' || external_id = ANY($3::text[]))
     RETURNING channel, external_id`,
    [operatorId, [...OWNER_CHANNELS], kept],
  );
  return result.rows.map((row) => `${row.channel}:${row.external_id}`);
}
