import type Stripe from 'stripe';
import { z } from 'zod';
import type { Clock } from '../../core/clock.ts';
import type { Preview } from '../../core/domain.ts';
import { SpineError } from '../../core/errors.ts';
import { type Connector, defineOperation, type ExecutionContext } from '../connector.ts';
import { formatMoney, fromMinorUnits, toMinorUnits } from './money.ts';
import { callStripe, stripeIdempotencyKey } from './stripe-client.ts';

/** One open invoice as `list_unpaid_invoices` reports it (amounts in major units: 120.5). */
export interface UnpaidInvoice {
  id: string;
  number: string | null;
  customerName: string | null;
  customerEmail: string | null;
  amountDue: number;
  currency: string;
  /** ISO 8601, or null for an invoice without a due date. */
  dueDate: string | null;
  hostedInvoiceUrl: string | null;
}

const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO currency code (eur, usd, …)')
  .transform((code) => code.toLowerCase());
const positiveAmount = z.number().positive('must be more than zero').max(1_000_000);

const listParams = z.object({
  olderThanDays: z.number().int().min(0).max(3650).optional(),
  limit: z.number().int().min(1).max(100).optional(),
});
const createInvoiceParams = z.object({
  customerEmail: z.email(),
  customerName: z.string().min(1).max(200).optional(),
  items: z
    .array(z.object({ description: z.string().min(1).max(500), amount: positiveAmount }))
    .min(1, 'an invoice needs at least one item')
    .max(50),
  currency,
  dueDays: z.number().int().min(0).max(365).default(14),
  /** Finalise and e-mail it right away (default); false leaves a draft to send later. */
  send: z.boolean().default(true),
});
const invoiceIdParams = z.object({
  invoiceId: z.string().regex(/^in_\w+$/, 'must be a Stripe invoice id (in_…)'),
});
const paymentLinkParams = z.object({
  description: z.string().min(1).max(250),
  amount: positiveAmount,
  currency,
  quantity: z.number().int().min(1).max(1000).default(1),
});
const refundParams = z.object({
  /** A PaymentIntent (pi_…) or a Charge (ch_…). */
  payment: z.string().regex(/^(pi|ch)_\w+$/, 'must be a PaymentIntent (pi_…) or Charge (ch_…) id'),
  amount: positiveAmount,
  currency,
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
});

type CreateInvoiceParams = z.infer<typeof createInvoiceParams>;
type PaymentLinkParams = z.infer<typeof paymentLinkParams>;

export interface PaymentsConnectorOptions {
  stripe: Stripe;
  clock: Clock;
  /** How long Stripe keeps an idempotency key (24 h); tests with a fake that forgets sooner set it. */
  keyTtlMs?: number;
}

/** Stripe forgets an idempotency key 24 hours after its first use. */
export const STRIPE_KEY_TTL_MS = 24 * 3_600_000;

/** The metadata field that names the Idempotency-Key an object was created under. */
export const SPINE_KEY_METADATA = 'spine_key';

/** A Stripe search query for objects created under one key (quotes and backslashes escaped). */
function byKeyQuery(stepKey: string): string {
  return `metadata['${SPINE_KEY_METADATA}']:'${stepKey.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function createdUnder(stepKey: string) {
  return (object: { metadata?: Stripe.Metadata | null }) => object.metadata?.[SPINE_KEY_METADATA] === stepKey;
}

const NO_UNDO_REFUND =
  'Not possible: Stripe cannot take a refund back. Charging the customer again is a new payment, its own approved action.';
const VOID_UNDO = 'Undo voids the invoice (a draft is deleted); a paid invoice can only be refunded.';

function invoiceTotal(params: CreateInvoiceParams): number {
  return params.items.reduce((sum, item) => sum + item.amount, 0);
}

function unpaid(invoice: Stripe.Invoice): UnpaidInvoice {
  return {
    id: invoice.id ?? '',
    number: invoice.number ?? null,
    customerName: invoice.customer_name ?? null,
    customerEmail: invoice.customer_email ?? null,
    amountDue: fromMinorUnits(invoice.amount_due, invoice.currency),
    currency: invoice.currency,
    dueDate: invoice.due_date ? new Date(invoice.due_date * 1000).toISOString() : null,
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
  };
}

/** What an invoice write reports: enough to undo it and to tell the operator where it is. */
function invoiceResult(invoice: Stripe.Invoice) {
  return { ...unpaid(invoice), status: invoice.status ?? null };
}

/**
 * Stripe as a connector: read unpaid invoices; create and send invoices, payment links and refunds
 * as `money` actions (always approved, counted against the daily amount limit). Every write sends
 * an Idempotency-Key derived from the action's key, so a retried action never creates a second
 * invoice; invoices and payment links can be undone (voided, deactivated), refunds cannot.
 */
export function createPaymentsConnector(options: PaymentsConnectorOptions): Connector {
  const { stripe, clock } = options;
  // An hour's margin: a key about to expire may expire between this check and the request.
  const keyTrustMs =
    (options.keyTtlMs ?? STRIPE_KEY_TTL_MS) -
    Math.min(3_600_000, (options.keyTtlMs ?? STRIPE_KEY_TTL_MS) / 24);

  /** Whether Stripe may have forgotten the key of a call that may already have happened. */
  function keyMayBeForgotten(context: ExecutionContext): boolean {
    const first = context.keyFirstUsedAt;
    return first !== null && first !== undefined && clock.now().getTime() - first.getTime() >= keyTrustMs;
  }

  /**
   * Create an object once per action step. Inside the key's lifetime Stripe's Idempotency-Key
   * replays the first answer; after it (a re-claim more than a day later) the object is first
   * looked up by the key stored in its metadata, so an earlier create that did land is not repeated.
   */
  async function createOnce<T>(
    context: ExecutionContext,
    step: string,
    find: (stepKey: string) => Promise<T | undefined>,
    create: (stepKey: string, metadata: Stripe.MetadataParam) => Promise<T>,
  ): Promise<T> {
    const stepKey = stripeIdempotencyKey(context.idempotencyKey, step);
    if (keyMayBeForgotten(context)) {
      const found = await callStripe(() => find(stepKey));
      if (found !== undefined) return found;
    }
    return callStripe(() => create(stepKey, { [SPINE_KEY_METADATA]: stepKey }));
  }

  async function findOrCreateCustomer(params: CreateInvoiceParams, key: string): Promise<string> {
    const found = await callStripe(() => stripe.customers.list({ email: params.customerEmail, limit: 1 }));
    const existing = found.data[0];
    if (existing) return existing.id;
    const created = await callStripe(() =>
      stripe.customers.create(
        { email: params.customerEmail, ...(params.customerName ? { name: params.customerName } : {}) },
        { idempotencyKey: stripeIdempotencyKey(key, 'customer') },
      ),
    );
    return created.id;
  }

  /**
   * Finalise a draft, then e-mail it. `keyForgotten`: an earlier call under this key may have sent
   * it more than a day ago and Stripe no longer dedupes the key; an invoice records no "sent", so
   * an open one might have been sent already — the operator decides, Spine does not send twice.
   */
  async function finaliseAndSend(
    invoiceId: string,
    key: string,
    keyForgotten = false,
  ): Promise<Stripe.Invoice> {
    const current = await callStripe(() => stripe.invoices.retrieve(invoiceId));
    if (keyForgotten && current.status === 'open') {
      throw new SpineError(
        'connector.outcome_unknown',
        `Invoice ${current.number ?? invoiceId} is open and an attempt to send it started more than a day ago; Stripe no longer tells whether it went out. Check the invoice's history in the Stripe Dashboard`,
        { category: 'third_party', details: { invoiceId } },
      );
    }
    if (current.status === 'draft') {
      await callStripe(() =>
        stripe.invoices.finalizeInvoice(
          invoiceId,
          {},
          { idempotencyKey: stripeIdempotencyKey(key, 'finalize') },
        ),
      );
    } else if (current.status !== 'open') {
      throw new SpineError(
        'payments.not_sendable',
        `Invoice ${current.number ?? invoiceId} is ${current.status}, so it cannot be sent. Create a new invoice instead.`,
        { category: 'user', details: { invoiceId, status: current.status ?? null } },
      );
    }
    return callStripe(() =>
      stripe.invoices.sendInvoice(invoiceId, {}, { idempotencyKey: stripeIdempotencyKey(key, 'send') }),
    );
  }

  /** Void an open invoice, delete a draft; a paid one cannot be undone (only refunded). */
  async function voidInvoice(invoiceId: string, key: string): Promise<unknown> {
    const current = await callStripe(() => stripe.invoices.retrieve(invoiceId));
    if (current.status === 'draft') {
      await callStripe(() => stripe.invoices.del(invoiceId));
      return { invoiceId, status: 'deleted' };
    }
    if (current.status === 'void') return { invoiceId, status: 'void' };
    if (current.status !== 'open') {
      throw new SpineError(
        'payments.not_voidable',
        `Invoice ${current.number ?? invoiceId} is ${current.status}, so Stripe cannot void it. If the customer paid, propose a refund (its own approved action).`,
        { category: 'user', details: { invoiceId, status: current.status ?? null } },
      );
    }
    const voided = await callStripe(() =>
      stripe.invoices.voidInvoice(invoiceId, {}, { idempotencyKey: stripeIdempotencyKey(key, 'void') }),
    );
    return { invoiceId, number: voided.number ?? null, status: voided.status ?? null };
  }

  const invoiceIdOf = (result: unknown): string => {
    const id = (result as { id?: unknown } | null)?.id;
    if (typeof id !== 'string')
      throw new SpineError(
        'payments.undo_without_invoice',
        'The original action stored no invoice id to void.',
        {
          category: 'system',
        },
      );
    return id;
  };

  /** The undo of an invoice write: void it (the result stored by the original names the invoice). */
  const voidUndo = {
    simulate: (_params: unknown, result: unknown): Preview => {
      const invoice = result as Partial<UnpaidInvoice> | null;
      const label = invoice?.number ?? invoice?.id ?? 'the invoice';
      return {
        title: `Void invoice ${label}`,
        doing: `voiding invoice ${label}`,
        done: `voided invoice ${label}`,
        fields: [
          { label: 'Invoice', value: String(label) },
          ...(invoice?.customerEmail ? [{ label: 'Customer', value: invoice.customerEmail }] : []),
          ...(invoice?.amountDue !== undefined && invoice.currency
            ? [{ label: 'Amount', value: formatMoney(invoice.amountDue, invoice.currency) }]
            : []),
        ],
      };
    },
    execute: (_params: unknown, result: unknown, context: ExecutionContext) =>
      voidInvoice(invoiceIdOf(result), context.idempotencyKey),
  };

  const listUnpaidInvoices = defineOperation({
    name: 'list_unpaid_invoices',
    description: 'List open (unpaid) Stripe invoices, optionally only those overdue by some days.',
    risk: 'read',
    reversible: false,
    external: true,
    // Every Stripe write carries an Idempotency-Key derived from the action's key.
    retry: 'by_key',
    schema: listParams,
    simulate: (params) => ({
      title: 'List unpaid invoices',
      doing: 'listing unpaid invoices',
      done: 'listed unpaid invoices',
      fields: [
        {
          label: 'Which',
          value:
            params.olderThanDays === undefined
              ? 'all open invoices'
              : `open invoices due at least ${params.olderThanDays} days ago`,
        },
      ],
    }),
    async execute(params) {
      const limit = params.limit ?? 25;
      const dueBefore =
        params.olderThanDays === undefined
          ? undefined
          : Math.floor(clock.now().getTime() / 1000) - params.olderThanDays * 86_400;
      const page = await callStripe(() =>
        stripe.invoices.list({
          status: 'open',
          limit,
          ...(dueBefore === undefined ? {} : { due_date: { lte: dueBefore } }),
        }),
      );
      const invoices = page.data
        .filter((invoice) => dueBefore === undefined || (invoice.due_date ?? Infinity) <= dueBefore)
        .map(unpaid);
      return { invoices };
    },
  });

  const invoicePreview = (params: CreateInvoiceParams): Preview => {
    const total = formatMoney(invoiceTotal(params), params.currency);
    const customer = params.customerName
      ? `${params.customerName} <${params.customerEmail}>`
      : params.customerEmail;
    const verb = params.send ? 'send' : 'create';
    return {
      title: `${params.send ? 'Send' : 'Create'} an invoice of ${total} to ${params.customerEmail}`,
      doing: `${verb === 'send' ? 'sending' : 'creating'} an invoice of ${total} to ${params.customerEmail}`,
      done: `${verb === 'send' ? 'sent' : 'created'} an invoice of ${total} to ${params.customerEmail}`,
      fields: [
        { label: 'Customer', value: customer },
        ...params.items.map((item, index) => ({
          label: `Item ${index + 1}`,
          value: `${item.description}: ${formatMoney(item.amount, params.currency)}`,
        })),
        { label: 'Total', value: total },
        { label: 'Due', value: `${params.dueDays} days after sending` },
        {
          label: 'Delivery',
          value: params.send ? 'Stripe e-mails it to the customer now' : 'draft, not sent',
        },
        { label: 'Undo', value: VOID_UNDO },
      ],
    };
  };

  const createInvoice = defineOperation({
    name: 'create_invoice',
    description: 'Create a Stripe invoice for a customer (by e-mail) with items, and send it.',
    risk: 'money',
    reversible: true,
    external: true,
    retry: 'by_key',
    schema: createInvoiceParams,
    target: (params) => params.customerEmail.toLowerCase(),
    amount: (params) => invoiceTotal(params),
    simulate: invoicePreview,
    async execute(params, context) {
      const key = context.idempotencyKey;
      const customer = await findOrCreateCustomer(params, key);
      const draft = await createOnce(
        context,
        'invoice',
        async (stepKey) => (await stripe.invoices.search({ query: byKeyQuery(stepKey), limit: 1 })).data[0],
        (stepKey, metadata) =>
          stripe.invoices.create(
            {
              customer,
              currency: params.currency,
              collection_method: 'send_invoice',
              days_until_due: params.dueDays,
              auto_advance: false,
              metadata: { spine_action_key: key.slice(0, 500), ...metadata },
            },
            { idempotencyKey: stepKey },
          ),
      );
      const invoiceId = draft.id ?? '';
      for (const [index, item] of params.items.entries()) {
        await createOnce(
          context,
          `item-${index}`,
          async (stepKey) =>
            (await stripe.invoiceItems.list({ invoice: invoiceId, limit: 100 })).data.find(
              createdUnder(stepKey),
            ),
          (stepKey, metadata) =>
            stripe.invoiceItems.create(
              {
                customer,
                invoice: invoiceId,
                currency: params.currency,
                amount: toMinorUnits(item.amount, params.currency),
                description: item.description,
                metadata,
              },
              { idempotencyKey: stepKey },
            ),
        );
      }
      const final = params.send
        ? await finaliseAndSend(invoiceId, key, keyMayBeForgotten(context))
        : await callStripe(() => stripe.invoices.retrieve(invoiceId));
      return invoiceResult(final);
    },
    undo: voidUndo,
  });

  const sendInvoice = defineOperation({
    name: 'send_invoice',
    description: 'Finalise a draft Stripe invoice (or resend an open one) and e-mail it to the customer.',
    risk: 'money',
    reversible: true,
    external: true,
    retry: 'by_key',
    schema: invoiceIdParams,
    target: (params) => params.invoiceId,
    async simulate(params) {
      let fields: Preview['fields'] = [{ label: 'Invoice', value: params.invoiceId }];
      let what = `invoice ${params.invoiceId}`;
      try {
        const invoice = await callStripe(() => stripe.invoices.retrieve(params.invoiceId));
        const amount = formatMoney(fromMinorUnits(invoice.amount_due, invoice.currency), invoice.currency);
        what = `invoice ${invoice.number ?? params.invoiceId} of ${amount} to ${invoice.customer_email ?? 'the customer'}`;
        fields = [
          { label: 'Invoice', value: invoice.number ?? params.invoiceId },
          { label: 'Customer', value: invoice.customer_email ?? invoice.customer_name ?? '(unknown)' },
          { label: 'Amount', value: amount },
          { label: 'Status now', value: invoice.status ?? 'unknown' },
        ];
      } catch {
        fields.push({ label: 'Details', value: 'Stripe could not be asked for the details just now' });
      }
      return {
        title: `Send ${what}`,
        doing: `sending ${what}`,
        done: `sent ${what}`,
        fields: [...fields, { label: 'Undo', value: VOID_UNDO }],
      };
    },
    execute: async (params, context) =>
      invoiceResult(
        await finaliseAndSend(params.invoiceId, context.idempotencyKey, keyMayBeForgotten(context)),
      ),
    undo: voidUndo,
  });

  const linkPreview = (params: PaymentLinkParams): Preview => {
    const total = formatMoney(params.amount * params.quantity, params.currency);
    return {
      title: `Create a payment link for ${total}`,
      doing: `creating a payment link for “${params.description}” (${total})`,
      done: `created a payment link for “${params.description}” (${total})`,
      fields: [
        { label: 'For', value: params.description },
        { label: 'Price', value: formatMoney(params.amount, params.currency) },
        { label: 'Quantity', value: String(params.quantity) },
        { label: 'Total', value: total },
        { label: 'Undo', value: 'Undo deactivates the link (payments already made stay).' },
      ],
    };
  };

  const createPaymentLink = defineOperation({
    name: 'create_payment_link',
    description: 'Create a Stripe payment link for a one-off amount.',
    risk: 'money',
    reversible: true,
    external: true,
    retry: 'by_key',
    schema: paymentLinkParams,
    target: (params) => params.description,
    amount: (params) => params.amount * params.quantity,
    simulate: linkPreview,
    async execute(params, context) {
      const price = await createOnce(
        context,
        'price',
        async (stepKey) => (await stripe.prices.search({ query: byKeyQuery(stepKey), limit: 1 })).data[0],
        (stepKey, metadata) =>
          stripe.prices.create(
            {
              currency: params.currency,
              unit_amount: toMinorUnits(params.amount, params.currency),
              product_data: { name: params.description },
              metadata,
            },
            { idempotencyKey: stepKey },
          ),
      );
      // Payment links have no search: the newest hundred are enough for a create retried within days.
      const link = await createOnce(
        context,
        'link',
        async (stepKey) => (await stripe.paymentLinks.list({ limit: 100 })).data.find(createdUnder(stepKey)),
        (stepKey, metadata) =>
          stripe.paymentLinks.create(
            { line_items: [{ price: price.id, quantity: params.quantity }], metadata },
            { idempotencyKey: stepKey },
          ),
      );
      return { id: link.id, url: link.url, active: link.active, priceId: price.id };
    },
    undo: {
      simulate: (params: PaymentLinkParams, result: unknown) => ({
        title: 'Deactivate the payment link',
        doing: `deactivating the payment link for “${params.description}”`,
        done: `deactivated the payment link for “${params.description}”`,
        fields: [{ label: 'Link', value: String((result as { url?: string } | null)?.url ?? '') }],
      }),
      async execute(_params: PaymentLinkParams, result: unknown, context: ExecutionContext) {
        const id = (result as { id?: unknown } | null)?.id;
        if (typeof id !== 'string')
          throw new SpineError(
            'payments.undo_without_link',
            'The original action stored no payment link id.',
          );
        const link = await callStripe(() =>
          stripe.paymentLinks.update(
            id,
            { active: false },
            { idempotencyKey: stripeIdempotencyKey(context.idempotencyKey, 'deactivate') },
          ),
        );
        return { id: link.id, active: link.active };
      },
    },
  });

  const refund = defineOperation({
    name: 'refund',
    description: 'Refund (part of) a Stripe payment. Cannot be undone.',
    risk: 'money',
    reversible: false,
    external: true,
    retry: 'by_key',
    schema: refundParams,
    target: (params) => params.payment,
    amount: (params) => params.amount,
    simulate: (params) => {
      const amount = formatMoney(params.amount, params.currency);
      return {
        title: `Refund ${amount} of payment ${params.payment}`,
        doing: `refunding ${amount} of payment ${params.payment}`,
        done: `refunded ${amount} of payment ${params.payment}`,
        fields: [
          { label: 'Payment', value: params.payment },
          { label: 'Amount', value: amount },
          ...(params.reason ? [{ label: 'Reason', value: params.reason }] : []),
          { label: 'Undo', value: NO_UNDO_REFUND },
        ],
      };
    },
    async execute(params, context) {
      const payment = params.payment.startsWith('pi_')
        ? { payment_intent: params.payment }
        : { charge: params.payment };
      const created = await createOnce(
        context,
        'refund',
        async (stepKey) =>
          (await stripe.refunds.list({ ...payment, limit: 100 })).data.find(createdUnder(stepKey)),
        (stepKey, metadata) =>
          stripe.refunds.create(
            {
              ...payment,
              amount: toMinorUnits(params.amount, params.currency),
              ...(params.reason ? { reason: params.reason } : {}),
              metadata,
            },
            { idempotencyKey: stepKey },
          ),
      );
      return {
        id: created.id,
        status: created.status,
        amount: fromMinorUnits(created.amount, created.currency),
        currency: created.currency,
      };
    },
  });

  return {
    name: 'payments',
    description: 'Payments (Stripe)',
    operations: {
      list_unpaid_invoices: listUnpaidInvoices,
      create_invoice: createInvoice,
      send_invoice: sendInvoice,
      create_payment_link: createPaymentLink,
      refund,
    },
  };
}
