import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connector, defineOperation } from '../../connectors/connector.ts';
import { emailNormalizer } from '../../ledger/normalizers/email.ts';
import type { Normalizer } from '../../ledger/normalizers/normalizer.ts';
import { factSentence } from '../../ledger/normalizers/normalizing-memory-store.ts';
import { applyRenormalize, planRenormalize, renderPlan } from '../../ledger/renormalize.ts';
import type { MemoryStore } from '../../memory/memory-store.ts';
import { DATABASE_KINDS } from '../support/databases.ts';
import { useTestSpines } from '../support/spine-suite.ts';

/** The bug: v1 took `mailto:` off but never lower-cased, so the same person had several addresses. */
const buggyEmailV1: Normalizer = {
  name: 'email',
  version: 1,
  attributes: emailNormalizer.attributes,
  normalize: (raw) => raw.replace(/^mailto:/i, ''),
};
/** The fix, as the next version. */
const fixedEmailV2: Normalizer = { ...emailNormalizer, version: 2 };

/** A CRM connector that imports contacts as facts, through the memory the composition root gives it. */
function crmConnector(facts: MemoryStore): Connector {
  const importContact = defineOperation({
    name: 'import_contact',
    description: 'Import a contact from the CRM',
    risk: 'read',
    reversible: false,
    external: true,
    retry: 'by_key',
    schema: z.object({ operatorId: z.number(), name: z.string(), email: z.string() }),
    simulate: (params) => ({
      title: `Import ${params.name}`,
      doing: `importing ${params.name}`,
      done: `imported ${params.name}`,
      fields: [],
    }),
    execute: async (params, context) => {
      const pointer = await facts.remember({
        operatorId: params.operatorId,
        kind: 'fact',
        content: factSentence(params.name, 'email', params.email),
        dedupeKey: `crm:${context.idempotencyKey}`,
        provenance: { source: 'connector:crm', sourceRef: params.name, assertedBy: 'connector:crm' },
      });
      return { memoryId: pointer.id };
    },
  });
  return { name: 'crm', description: 'A test CRM', operations: { import_contact: importContact } };
}

describe.each(DATABASE_KINDS)('renormalize on %s Postgres', (kind) => {
  const spines = useTestSpines(kind);

  it('a normalizer bug fixed once corrects every past fact, from chat and from a connector', async () => {
    const test = await spines.fresh();
    const { spine } = test;
    const operatorId = spine.operator.id;
    spine.normalizers.register(buggyEmailV1);
    spine.connectors.add(crmConnector(spine.facts));
    const goal = await spine.repos.goals.insert({
      operatorId,
      channel: 'console',
      thread: { channel: 'console', conversation: 'local' },
      text: 'import contacts',
      requestedBy: 'console:local',
    });
    const importContact = async (name: string, email: string) => {
      const prepared = await spine.connectors.prepare({
        connector: 'crm',
        operation: 'import_contact',
        params: { operatorId, name, email },
        why: 'sync',
      });
      const { action } = await spine.connectors.record(prepared, {
        goalId: goal.id,
        operatorId,
        idempotencyKey: `crm-${name}`,
        status: 'approved',
      });
      expect((await spine.connectors.execute(action.id)).status).toBe('succeeded');
    };

    // History written under the buggy v1: through chat and through the connector.
    await test.say("remember that Dana's email is mailto:Dana.Scully@Example.COM");
    await test.say("remember that Finn's email is finn@example.com");
    await test.say("remember that Dana's phone is 555 0100");
    await importContact('Mulder', 'FOX.MULDER@FBI.GOV');
    await importContact('Kersh', 'A.Kersh@FBI.gov');
    // Kersh's address was replaced since (by the operator): that history no longer speaks for the fact.
    await test.say("remember that Kersh's email is alvin@example.org");
    expect((await spine.memory.lookupFact(operatorId, 'Dana', 'email'))?.snippet).toBe(
      "Dana's email is Dana.Scully@Example.COM",
    );
    const normalised = (await spine.repos.events.list({ operatorId, limit: 200 })).filter(
      (event) => event.verb === 'normalised',
    );
    expect(normalised.map((event) => event.payload.raw)).toEqual([
      'mailto:Dana.Scully@Example.COM',
      'finn@example.com',
      'FOX.MULDER@FBI.GOV',
      'A.Kersh@FBI.gov',
      'alvin@example.org',
    ]);
    expect(normalised[0]?.payload).toMatchObject({ normalizer: 'email', version: 1, subject: 'Dana' });
    expect(normalised[2]?.payload.source).toBe('connector:crm');

    spine.normalizers.register(fixedEmailV2);
    const deps = {
      db: spine.db.pool,
      memory: spine.memory,
      registry: spine.normalizers,
      clock: { now: () => new Date() },
    };
    const plan = await planRenormalize(deps, 'email');
    expect(renderPlan(plan)).toBe(
      [
        'Renormalize with email v2: 2 of 4 current facts would change.',
        '• Dana / email: Dana.Scully@Example.COM → dana.scully@example.com',
        '• Mulder / email: FOX.MULDER@FBI.GOV → fox.mulder@fbi.gov',
      ].join('\n'),
    );
    // The dry run changed nothing.
    expect((await spine.memory.lookupFact(operatorId, 'Dana', 'email'))?.snippet).toBe(
      "Dana's email is Dana.Scully@Example.COM",
    );

    const applied = await applyRenormalize(deps, plan, 'operator');
    expect(applied).toHaveLength(2);
    expect((await spine.memory.lookupFact(operatorId, 'Dana', 'email'))?.snippet).toBe(
      "Dana's email is dana.scully@example.com",
    );
    const mulder = await spine.memory.lookupFact(operatorId, 'Mulder', 'email');
    expect(mulder?.snippet).toBe("Mulder's email is fox.mulder@fbi.gov");
    // Still the connector's memory, signed again for its new content.
    expect(mulder).toMatchObject({ source: 'connector:crm', verified: true });
    expect((await spine.memory.lookupFact(operatorId, 'Kersh', 'email'))?.snippet).toBe(
      "Kersh's email is alvin@example.org",
    );
    const recalled = await spine.memory.recall("what is Dana's email?", { operatorId, limit: 3 });
    expect(recalled[0]?.snippet).toBe("Dana's email is dana.scully@example.com");
    // Nothing rewritten in place: the old value stays in the fact's history.
    const history = await spine.memory.factHistory(operatorId, 'Dana', 'email');
    expect(history.map((pointer) => pointer.snippet)).toEqual([
      "Dana's email is dana.scully@example.com",
      "Dana's email is Dana.Scully@Example.COM",
    ]);
    const renormalised = (await spine.repos.events.list({ operatorId, limit: 200 })).filter(
      (event) => event.verb === 'renormalised',
    );
    expect(renormalised).toHaveLength(2);
    expect(renormalised[0]?.payload).toMatchObject({
      normalizer: 'email',
      fromVersion: 1,
      version: 2,
      before: 'Dana.Scully@Example.COM',
      after: 'dana.scully@example.com',
      supersedes: history[1]?.id,
      factId: history[0]?.id,
    });
    expect(await spine.intake.log(operatorId, 3)).toContain(
      "renormalised Dana's email from “Dana.Scully@Example.COM” to “dana.scully@example.com” (email v1 → v2)",
    );

    // Running it again changes nothing.
    const again = await planRenormalize(deps, 'email');
    expect(again.changes).toEqual([]);
    expect(renderPlan(again)).toBe('Renormalize with email v2: 0 of 4 current facts would change.');
    expect(await applyRenormalize(deps, again, 'operator')).toEqual([]);
    expect(await spine.memory.factHistory(operatorId, 'Dana', 'email')).toHaveLength(2);

    // New input already goes through the fixed version.
    await test.say("remember that Skinner's email is W.Skinner@FBI.gov");
    expect((await spine.memory.lookupFact(operatorId, 'Skinner', 'email'))?.snippet).toBe(
      "Skinner's email is w.skinner@fbi.gov",
    );
  });

  it('in chat: `renormalize email` shows the diff with Confirm; Confirm applies it once', async () => {
    const test = await spines.fresh();
    const { spine, chat } = test;
    spine.normalizers.register(buggyEmailV1);
    await test.say("remember that Dana's email is Dana@Example.com");
    spine.normalizers.register(fixedEmailV2);
    await test.say('renormalize email');
    const diff = chat.posts.at(-1)?.message;
    expect(diff?.text).toContain(
      'Renormalize with email v2: 1 of 1 current fact would change.\n• Dana / email: Dana@Example.com → dana@example.com',
    );
    expect(diff?.blocks?.at(-1)).toEqual({
      type: 'buttons',
      buttons: [{ action: 'renormalize:apply:email:2', label: 'Confirm', style: 'primary' }],
    });
    expect((await spine.memory.lookupFact(spine.operator.id, 'Dana', 'email'))?.snippet).toBe(
      "Dana's email is Dana@Example.com",
    );
    const confirm = () =>
      spine.intake.press({
        action: 'renormalize:apply:email:2',
        channel: 'console',
        userId: 'local',
        thread: { channel: 'console', conversation: 'local' },
      });
    await Promise.all([confirm(), confirm()]);
    expect(chat.texts()).toContain('Renormalized 1 fact with email v2; the old values stay in history.');
    expect((await spine.memory.lookupFact(spine.operator.id, 'Dana', 'email'))?.snippet).toBe(
      "Dana's email is dana@example.com",
    );
    expect(await spine.memory.factHistory(spine.operator.id, 'Dana', 'email')).toHaveLength(2);
    const events = await spine.repos.events.list({ operatorId: spine.operator.id, limit: 100 });
    expect(events.filter((event) => event.verb === 'renormalised')).toHaveLength(1);
    await confirm();
    expect(chat.texts().at(-1)).toBe('Renormalize with email v2: 0 of 1 current fact would change.');
    const stranger = await spine.intake.press({
      action: 'renormalize:apply:email:2',
      channel: 'slack',
      userId: 'U_STRANGER',
    });
    expect(stranger).toBe(false);
  });

  it('refuses an unknown normalizer with the known ones listed', async () => {
    const test = await spines.fresh();
    const deps = {
      db: test.spine.db.pool,
      memory: test.spine.memory,
      registry: test.spine.normalizers,
      clock: { now: () => new Date() },
    };
    await expect(planRenormalize(deps, 'phone')).rejects.toThrow(
      'There is no normalizer "phone". Known: email, contact-name, money, date.',
    );
  });
});
