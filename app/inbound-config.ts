import { z } from 'zod';
import type { ImapSettings } from '../connectors/imap/imap-source.ts';
import type { StripeSettings } from '../connectors/payments/stripe-client.ts';

const emptyAsUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const optionalString = z.preprocess(emptyAsUndefined, z.string().min(1).optional());

/** Stripe and the inbound mailbox, spread into the environment schema in app/config.ts. */
export const inboundEnvironmentShape = {
  STRIPE_SECRET_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(
        /^(sk|rk)_(test|live)_\w+$/,
        'must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)',
      )
      .optional(),
  ),
  STRIPE_API_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^https?:\/\/[^/]+\/?$/, 'must be http(s)://host[:port] (e.g. http://127.0.0.1:12111)')
      .optional(),
  ),
  STRIPE_WEBHOOK_SECRET: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .startsWith('whsec_', 'must start with whsec_ (from the webhook endpoint in Stripe)')
      .optional(),
  ),
  IMAP_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^imaps?:\/\/[^@/]+@[^/]+(\/.*)?$/, 'must be imap(s)://user:password@host[:port][/MAILBOX]')
      .optional(),
  ),
  IMAP_HOST: optionalString,
  IMAP_PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(65_535).optional()),
  IMAP_USER: optionalString,
  IMAP_PASSWORD: optionalString,
  IMAP_MAILBOX: optionalString,
  IMAP_TLS: z.preprocess(emptyAsUndefined, z.enum(['true', 'false']).optional()),
};

type InboundValues = z.infer<z.ZodObject<typeof inboundEnvironmentShape>>;

/** Payments (Stripe API and webhooks) and the inbound mailbox, each set when its variables are. */
export interface InboundConfig {
  stripe: StripeSettings | undefined;
  /** Verifies `POST /stripe/webhook` deliveries; unset means the route is not mounted. */
  stripeWebhookSecret: string | undefined;
  imap: ImapSettings | undefined;
}

function imapFrom(values: InboundValues, problems: string[]): ImapSettings | undefined {
  if (values.IMAP_URL) {
    const url = new URL(values.IMAP_URL);
    const secure = url.protocol === 'imaps:';
    return {
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 993 : 143,
      secure: values.IMAP_TLS ? values.IMAP_TLS === 'true' : secure,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      mailbox: decodeURIComponent(url.pathname.replace(/^\//, '')) || values.IMAP_MAILBOX || 'INBOX',
    };
  }
  if (!values.IMAP_HOST) {
    if (values.IMAP_USER || values.IMAP_PASSWORD)
      problems.push('  - IMAP_HOST: required with IMAP_USER and IMAP_PASSWORD (or set IMAP_URL)');
    return undefined;
  }
  if (!values.IMAP_USER || !values.IMAP_PASSWORD) {
    problems.push('  - IMAP_USER and IMAP_PASSWORD: required with IMAP_HOST');
    return undefined;
  }
  const secure = values.IMAP_TLS !== 'false';
  return {
    host: values.IMAP_HOST,
    port: values.IMAP_PORT ?? (secure ? 993 : 143),
    secure,
    user: values.IMAP_USER,
    password: values.IMAP_PASSWORD,
    mailbox: values.IMAP_MAILBOX ?? 'INBOX',
  };
}

/** Cross-field problems of the inbound variables (half-configured IMAP), listed with the others. */
export function inboundProblems(values: InboundValues): string[] {
  const problems: string[] = [];
  imapFrom(values, problems);
  return problems;
}

/** The inbound part of the config (after `inboundProblems` found none). */
export function inboundConfigFrom(values: InboundValues): InboundConfig {
  const imap = imapFrom(values, []);
  return {
    stripe: values.STRIPE_SECRET_KEY
      ? { secretKey: values.STRIPE_SECRET_KEY, apiUrl: values.STRIPE_API_URL }
      : undefined,
    stripeWebhookSecret: values.STRIPE_WEBHOOK_SECRET,
    imap,
  };
}
