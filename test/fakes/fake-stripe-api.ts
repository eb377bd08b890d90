import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake received, as the SDK sent it. */
export interface StripeRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  params: Record<string, unknown>;
  /** True when the answer was a replay of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/** What the next matching request gets instead of a normal answer. */
export type StripeFault =
  | { kind: 'status'; status: number; retryAfterSeconds?: number; message?: string }
  /** Do the work and store the answer under the key, then cut the connection (a lost response). */
  | { kind: 'drop_after_effect' };

type StripeObject = Record<string, unknown> & { id: string };

/** `a[b][0][c]=1` form fields → nested objects and arrays (the encoding the Stripe SDK uses). */
export function parseStripeForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const path = name.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> = root;
    path.forEach((part, index) => {
      if (index === path.length - 1) {
        node[part] = value;
        return;
      }
      const nextIsIndex = /^\d+$/.test(path[index + 1] ?? '');
      node[part] ??= nextIsIndex ? [] : {};
      node = node[part] as Record<string, unknown>;
    });
  }
  return root;
}

/**
 * Stripe's API on loopback, for the endpoints the payments connector uses. It checks the bearer
 * key, keeps customers, invoices, prices, payment links and refunds in memory, records every
 * request with its Idempotency-Key, and replays the first answer for a repeated key (as Stripe does).
 */
export class FakeStripeApi {
  readonly requests: StripeRequest[] = [];
  readonly customers = new Map<string, StripeObject>();
  readonly invoices = new Map<string, StripeObject>();
  readonly invoiceItems = new Map<string, StripeObject>();
  readonly prices = new Map<string, StripeObject>();
  readonly paymentLinks = new Map<string, StripeObject>();
  readonly refunds = new Map<string, StripeObject>();
  /** Faults for the next requests whose `METHOD path` starts with the given prefix. */
  readonly faults: Array<{ match: string; fault: StripeFault }> = [];
  readonly #replies = new Map<string, { status: number; body: unknown }>();
  #server: Server | undefined;
  #counter = 0;
  /** "Now" for created timestamps, in Unix seconds. */
  now = () => Math.floor(Date.now() / 1000);

  constructor(private readonly secretKey: string) {}

  async start(): Promise<string> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Requests that wrote (POST/DELETE), in order. */
  writes(): StripeRequest[] {
    return this.requests.filter((request) => request.method !== 'GET');
  }

  /** Add an open invoice as if created earlier in Stripe's dashboard. */
  seedInvoice(fields: {
    customerName: string;
    customerEmail: string;
    amountDue: number;
    currency?: string;
    dueDate: Date;
    status?: string;
  }): StripeObject {
    const id = this.#id('in');
    const invoice: StripeObject = {
      id,
      object: 'invoice',
      number: `SEED-${this.#counter}`,
      customer: this.#id('cus'),
      customer_name: fields.customerName,
      customer_email: fields.customerEmail,
      amount_due: fields.amountDue,
      currency: fields.currency ?? 'eur',
      due_date: Math.floor(fields.dueDate.getTime() / 1000),
      status: fields.status ?? 'open',
      hosted_invoice_url: `https://invoice.stripe.test/${id}`,
      created: this.now(),
    };
    this.invoices.set(id, invoice);
    return invoice;
  }

  #id(prefix: string): string {
    this.#counter += 1;
    return `${prefix}_fake${this.#counter.toString().padStart(6, '0')}`;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const params = parseStripeForm(method === 'GET' ? url.search.slice(1) : Buffer.concat(chunks).toString());
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const idempotencyKey = header('idempotency-key');
    const authorization = header('authorization');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, {
        'content-type': 'application/json',
        'request-id': 'req_fake',
        ...headers,
      });
      response.end(JSON.stringify(body));
    };
    const replay = idempotencyKey ? this.#replies.get(idempotencyKey) : undefined;
    this.requests.push({
      method,
      path: url.pathname,
      idempotencyKey,
      authorization,
      params,
      replayed: replay !== undefined,
    });
    if (authorization !== `Bearer ${this.secretKey}`) {
      send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
      return;
    }
    if (replay) {
      send(replay.status, replay.body, { 'idempotent-replayed': 'true' });
      return;
    }
    const faultIndex = this.faults.findIndex((entry) => `${method} ${url.pathname}`.startsWith(entry.match));
    const fault = faultIndex >= 0 ? this.faults.splice(faultIndex, 1)[0]?.fault : undefined;
    if (fault?.kind === 'status') {
      send(
        fault.status,
        { error: { type: 'api_error', message: fault.message ?? `fake failure ${fault.status}` } },
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) },
      );
      return;
    }
    const reply = this.#route(method, url.pathname, params);
    // Stripe stores the answer of a request that ran, and replays it for the same key.
    if (idempotencyKey && method !== 'GET') this.#replies.set(idempotencyKey, reply);
    if (fault?.kind === 'drop_after_effect') {
      request.socket.destroy();
      return;
    }
    send(reply.status, reply.body);
  }

  #route(method: string, path: string, params: Record<string, unknown>): { status: number; body: unknown } {
    const notFound = (what: string) => ({
      status: 404,
      body: { error: { type: 'invalid_request_error', message: `No such ${what}` } },
    });
    const invalid = (message: string) => ({
      status: 400,
      body: { error: { type: 'invalid_request_error', message } },
    });
    const list = (data: StripeObject[]) => ({
      status: 200,
      body: { object: 'list', data, has_more: false, url: path },
    });
    const segments = path.split('/').filter(Boolean);
    const [, resource, id, verb] = segments;
    if (resource === 'customers') {
      if (method === 'GET')
        return list([...this.customers.values()].filter((customer) => customer.email === params.email));
      const customer = {
        id: this.#id('cus'),
        object: 'customer',
        email: params.email,
        name: params.name ?? null,
      };
      this.customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if (resource === 'invoices') {
      if (!id) {
        if (method === 'GET') {
          const due = params.due_date as { lte?: string } | undefined;
          const limit = Number(params.limit ?? 10);
          return list(
            [...this.invoices.values()]
              .filter((invoice) => !params.status || invoice.status === params.status)
              .filter((invoice) => !due?.lte || Number(invoice.due_date) <= Number(due.lte))
              .slice(0, limit),
          );
        }
        const customer = this.customers.get(String(params.customer));
        if (!customer) return notFound(`customer: '${String(params.customer)}'`);
        const invoiceId = this.#id('in');
        const invoice: StripeObject = {
          id: invoiceId,
          object: 'invoice',
          number: null,
          customer: customer.id,
          customer_email: customer.email,
          customer_name: customer.name,
          currency: params.currency,
          collection_method: params.collection_method,
          days_until_due: Number(params.days_until_due ?? 0),
          amount_due: 0,
          status: 'draft',
          due_date: null,
          hosted_invoice_url: null,
          metadata: params.metadata ?? {},
          created: this.now(),
        };
        this.invoices.set(invoiceId, invoice);
        return { status: 200, body: invoice };
      }
      const invoice = this.invoices.get(id);
      if (!invoice) return notFound(`invoice: '${id}'`);
      if (method === 'GET') return { status: 200, body: invoice };
      if (method === 'DELETE') {
        if (invoice.status !== 'draft') return invalid('You can only delete draft invoices.');
        this.invoices.delete(id);
        return { status: 200, body: { id, object: 'invoice', deleted: true } };
      }
      if (verb === 'finalize') {
        if (invoice.status !== 'draft') return invalid('This invoice is already finalized.');
        invoice.status = 'open';
        invoice.number = `FAKE-${String(this.#counter).padStart(4, '0')}`;
        invoice.due_date = this.now() + Number(invoice.days_until_due) * 86_400;
        invoice.hosted_invoice_url = `https://invoice.stripe.test/${id}`;
        return { status: 200, body: invoice };
      }
      if (verb === 'send') {
        if (invoice.status !== 'open') return invalid('You can only send open invoices.');
        invoice.sent = Number(invoice.sent ?? 0) + 1;
        return { status: 200, body: invoice };
      }
      if (verb === 'void') {
        if (invoice.status !== 'open')
          return invalid(`You can only void open invoices (this one is ${invoice.status}).`);
        invoice.status = 'void';
        return { status: 200, body: invoice };
      }
    }
    if (resource === 'invoiceitems' && method === 'POST') {
      const invoice = this.invoices.get(String(params.invoice));
      if (!invoice) return notFound(`invoice: '${String(params.invoice)}'`);
      if (invoice.status !== 'draft') return invalid('You can only add items to draft invoices.');
      const item = {
        id: this.#id('ii'),
        object: 'invoiceitem',
        invoice: invoice.id,
        amount: Number(params.amount),
        currency: params.currency,
        description: params.description,
      };
      this.invoiceItems.set(item.id, item);
      invoice.amount_due = Number(invoice.amount_due) + item.amount;
      return { status: 200, body: item };
    }
    if (resource === 'prices' && method === 'POST') {
      const price = {
        id: this.#id('price'),
        object: 'price',
        currency: params.currency,
        unit_amount: Number(params.unit_amount),
        product: this.#id('prod'),
      };
      this.prices.set(price.id, price);
      return { status: 200, body: price };
    }
    if (resource === 'payment_links' && method === 'POST') {
      if (id) {
        const link = this.paymentLinks.get(id);
        if (!link) return notFound(`payment link: '${id}'`);
        if (params.active !== undefined) link.active = params.active === 'true';
        return { status: 200, body: link };
      }
      const items = (params.line_items as Array<{ price: string; quantity: string }> | undefined) ?? [];
      if (!items.every((item) => this.prices.has(item.price))) return invalid('No such price');
      const linkId = this.#id('plink');
      const link = {
        id: linkId,
        object: 'payment_link',
        active: true,
        url: `https://buy.stripe.test/${linkId}`,
        line_items: items,
      };
      this.paymentLinks.set(linkId, link);
      return { status: 200, body: link };
    }
    if (resource === 'refunds' && method === 'POST') {
      const payment = String(params.payment_intent ?? params.charge ?? '');
      if (!payment) return invalid('One of charge or payment_intent is required.');
      const refund = {
        id: this.#id('re'),
        object: 'refund',
        amount: Number(params.amount),
        currency: 'eur',
        payment_intent: params.payment_intent ?? null,
        charge: params.charge ?? null,
        reason: params.reason ?? null,
        status: 'succeeded',
      };
      this.refunds.set(refund.id, refund);
      return { status: 200, body: refund };
    }
    return notFound(`route: ${method} ${path}`);
  }
}
