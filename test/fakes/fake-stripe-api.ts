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

/** The kinds of object the fake creates, as Stripe names them in `object`. */
export type StripeObjectType =
  | 'customer'
  | 'invoice'
  | 'invoiceitem'
  | 'price'
  | 'product'
  | 'payment_link'
  | 'refund';

export interface FakeStripeOptions {
  /**
   * How long an Idempotency-Key is remembered (Stripe: 24 hours). After that a repeated key is a new
   * request and creates again, which is what a retry after expiry has to guard against.
   */
  keyTtlMs?: number;
}

const DAY_MS = 86_400_000;

/** One `field:'value'` (or `field~'value'`) clause of Stripe's search query language. */
interface SearchClause {
  field: string;
  metadataKey: string | null;
  operator: ':' | '~';
  value: string;
}

/**
 * The subset of Stripe's search query language a lookup by key needs: `metadata['k']:'v'`, plain
 * fields (`email:'a@b'`, `status:'open'`), `~` for a substring, clauses joined by AND or by OR.
 * Anything else is refused as Stripe refuses a malformed query, so a client never silently matches all.
 */
export function parseStripeSearch(query: string): { join: 'AND' | 'OR'; clauses: SearchClause[] } | null {
  // A quoted string, either quote, with backslash escapes (`\'` and `\\`), as Stripe reads it.
  const quoted = String.raw`(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")`;
  const clause = new RegExp(String.raw`\s*(?:metadata\[${quoted}\]|([a-z_]+))\s*([:~])\s*${quoted}\s*`, 'y');
  const joiner = /(AND|OR)\s+/y;
  const unquote = (text: string) => text.replace(/\\(.)/g, '$1');
  const clauses: SearchClause[] = [];
  const joins = new Set<string>();
  let at = 0;
  for (;;) {
    clause.lastIndex = at;
    const match = clause.exec(query);
    if (!match) return null;
    const metadataKey = match[1] ?? match[2];
    clauses.push({
      field: match[3] ?? 'metadata',
      metadataKey: metadataKey === undefined ? null : unquote(metadataKey),
      operator: match[4] as ':' | '~',
      value: unquote(match[5] ?? match[6] ?? ''),
    });
    at = clause.lastIndex;
    if (at === query.length) break;
    joiner.lastIndex = at;
    const join = joiner.exec(query);
    if (!join) return null;
    joins.add(join[1] ?? '');
    at = joiner.lastIndex;
  }
  // Stripe does not allow AND and OR in one query either.
  if (joins.size > 1) return null;
  return { join: joins.has('OR') ? 'OR' : 'AND', clauses };
}

function matchesSearch(
  object: StripeObject,
  search: NonNullable<ReturnType<typeof parseStripeSearch>>,
): boolean {
  const test = (clause: SearchClause) => {
    const source =
      clause.metadataKey === null
        ? object[clause.field]
        : (object.metadata as Record<string, unknown> | undefined)?.[clause.metadataKey];
    if (source === undefined || source === null) return false;
    const text = String(source);
    return clause.operator === ':' ? text === clause.value : text.includes(clause.value);
  };
  return search.join === 'AND' ? search.clauses.every(test) : search.clauses.some(test);
}

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
 * key, keeps customers, invoices, prices, products, payment links and refunds in memory, records
 * every request with its Idempotency-Key, and replays the first answer for a repeated key (as Stripe
 * does) until the key expires (`keyTtlMs`). Replays dedupe, so once-ness is counted in `created`:
 * objects actually created, per type. Objects carry their `metadata` and can be looked up by it
 * (`GET /v1/{customers,invoices,prices,products}/search`, and the lists of refunds and payment
 * links, which Stripe offers no search for).
 */
export class FakeStripeApi {
  readonly requests: StripeRequest[] = [];
  readonly customers = new Map<string, StripeObject>();
  readonly invoices = new Map<string, StripeObject>();
  readonly invoiceItems = new Map<string, StripeObject>();
  readonly prices = new Map<string, StripeObject>();
  readonly products = new Map<string, StripeObject>();
  readonly paymentLinks = new Map<string, StripeObject>();
  readonly refunds = new Map<string, StripeObject>();
  /** Objects actually created, per type (a replayed key creates nothing; a deleted draft still counts). */
  readonly created: Record<StripeObjectType, number> = {
    customer: 0,
    invoice: 0,
    invoiceitem: 0,
    price: 0,
    product: 0,
    payment_link: 0,
    refund: 0,
  };
  /** Every object created, in order, as created (before later changes): to find two with one key. */
  readonly createdLog: Array<{ type: StripeObjectType; id: string; metadata: Record<string, unknown> }> = [];
  /** Faults for the next requests whose `METHOD path` starts with the given prefix. */
  readonly faults: Array<{ match: string; fault: StripeFault }> = [];
  readonly #replies = new Map<string, { status: number; body: unknown; storedAtMs: number }>();
  readonly #keyTtlMs: number;
  #server: Server | undefined;
  #counter = 0;
  /** "Now" for created timestamps and key expiry, in Unix seconds (a test may move it). */
  now = () => Math.floor(Date.now() / 1000);

  constructor(
    private readonly secretKey: string,
    options: FakeStripeOptions = {},
  ) {
    this.#keyTtlMs = options.keyTtlMs ?? DAY_MS;
  }

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

  /** Forget every stored Idempotency-Key at once, as if a day had passed. */
  expireIdempotencyKeys(): void {
    this.#replies.clear();
  }

  /** Objects created (of one type, or any) whose metadata has `key` = `value`. */
  createdWithMetadata(key: string, value: string, type?: StripeObjectType): number {
    return this.createdLog.filter((entry) => (!type || entry.type === type) && entry.metadata[key] === value)
      .length;
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
    const replay = idempotencyKey ? this.#storedReply(idempotencyKey) : undefined;
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
    if (idempotencyKey && method !== 'GET')
      this.#replies.set(idempotencyKey, { ...reply, storedAtMs: this.now() * 1000 });
    if (fault?.kind === 'drop_after_effect') {
      request.socket.destroy();
      return;
    }
    send(reply.status, reply.body);
  }

  /** The stored answer for a key, unless the key has expired (then it is forgotten, as Stripe does). */
  #storedReply(key: string): { status: number; body: unknown } | undefined {
    const stored = this.#replies.get(key);
    if (!stored) return undefined;
    if (this.now() * 1000 - stored.storedAtMs >= this.#keyTtlMs) {
      this.#replies.delete(key);
      return undefined;
    }
    return stored;
  }

  /** Store a new object and count it as created. */
  #create<T extends StripeObject>(type: StripeObjectType, store: Map<string, StripeObject>, object: T): T {
    store.set(object.id, object);
    this.created[type] += 1;
    this.createdLog.push({
      type,
      id: object.id,
      metadata: { ...((object.metadata as Record<string, unknown> | undefined) ?? {}) },
    });
    return object;
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
    /** Stripe's lists: newest first, `limit` (default 10) with `has_more`. */
    const newestFirst = (objects: StripeObject[]) => {
      const limit = Number(params.limit ?? 10);
      const data = [...objects].reverse();
      return {
        status: 200,
        body: { object: 'list', data: data.slice(0, limit), has_more: data.length > limit, url: path },
      };
    };
    const metadata = () => (params.metadata as Record<string, unknown> | undefined) ?? {};
    const segments = path.split('/').filter(Boolean);
    const [, resource, id, verb] = segments;
    const searchable: Record<string, Map<string, StripeObject>> = {
      customers: this.customers,
      invoices: this.invoices,
      prices: this.prices,
      products: this.products,
    };
    if (method === 'GET' && id === 'search' && resource && Object.hasOwn(searchable, resource)) {
      const search = parseStripeSearch(String(params.query ?? ''));
      if (!search) return invalid(`Invalid search query: ${String(params.query ?? '')}`);
      const limit = Number(params.limit ?? 10);
      const found = [...(searchable[resource]?.values() ?? [])].filter((object) =>
        matchesSearch(object, search),
      );
      return {
        status: 200,
        body: {
          object: 'search_result',
          data: found.slice(0, limit),
          has_more: found.length > limit,
          next_page: null,
          url: path,
        },
      };
    }
    if (resource === 'customers') {
      if (method === 'GET' && id) {
        const customer = this.customers.get(id);
        return customer ? { status: 200, body: customer } : notFound(`customer: '${id}'`);
      }
      if (method === 'GET')
        return list(
          [...this.customers.values()].filter((customer) => !params.email || customer.email === params.email),
        );
      const customer = this.#create('customer', this.customers, {
        id: this.#id('cus'),
        object: 'customer',
        email: params.email,
        name: params.name ?? null,
        metadata: metadata(),
        created: this.now(),
      });
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
        const invoice = this.#create('invoice', this.invoices, {
          id: this.#id('in'),
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
          metadata: metadata(),
          created: this.now(),
        });
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
    if (resource === 'invoiceitems') {
      if (method === 'GET')
        return newestFirst(
          [...this.invoiceItems.values()].filter(
            (item) => !params.invoice || item.invoice === params.invoice,
          ),
        );
      if (method !== 'POST') return notFound(`route: ${method} ${path}`);
      const invoice = this.invoices.get(String(params.invoice));
      if (!invoice) return notFound(`invoice: '${String(params.invoice)}'`);
      if (invoice.status !== 'draft') return invalid('You can only add items to draft invoices.');
      const item = this.#create('invoiceitem', this.invoiceItems, {
        id: this.#id('ii'),
        object: 'invoiceitem',
        invoice: invoice.id,
        amount: Number(params.amount),
        currency: params.currency,
        description: params.description,
        metadata: metadata(),
      });
      invoice.amount_due = Number(invoice.amount_due) + item.amount;
      return { status: 200, body: item };
    }
    if (resource === 'prices') {
      if (method === 'GET' && id) {
        const price = this.prices.get(id);
        return price ? { status: 200, body: price } : notFound(`price: '${id}'`);
      }
      if (method === 'GET') return newestFirst([...this.prices.values()]);
      // `product_data` makes a product on the way, as Stripe does: it is an object created too.
      const productData = params.product_data as
        | { name?: string; metadata?: Record<string, unknown> }
        | undefined;
      const product = productData
        ? this.#create('product', this.products, {
            id: this.#id('prod'),
            object: 'product',
            name: productData.name ?? null,
            metadata: productData.metadata ?? {},
          })
        : undefined;
      const price = this.#create('price', this.prices, {
        id: this.#id('price'),
        object: 'price',
        currency: params.currency,
        unit_amount: Number(params.unit_amount),
        product: product?.id ?? params.product ?? null,
        metadata: metadata(),
      });
      return { status: 200, body: price };
    }
    if (resource === 'payment_links') {
      if (method === 'GET' && id) {
        const link = this.paymentLinks.get(id);
        return link ? { status: 200, body: link } : notFound(`payment link: '${id}'`);
      }
      if (method === 'GET')
        return newestFirst(
          [...this.paymentLinks.values()].filter(
            (link) => params.active === undefined || String(link.active) === params.active,
          ),
        );
      if (id) {
        const link = this.paymentLinks.get(id);
        if (!link) return notFound(`payment link: '${id}'`);
        if (params.active !== undefined) link.active = params.active === 'true';
        return { status: 200, body: link };
      }
      const items = (params.line_items as Array<{ price: string; quantity: string }> | undefined) ?? [];
      if (!items.every((item) => this.prices.has(item.price))) return invalid('No such price');
      const linkId = this.#id('plink');
      const link = this.#create('payment_link', this.paymentLinks, {
        id: linkId,
        object: 'payment_link',
        active: true,
        url: `https://buy.stripe.test/${linkId}`,
        line_items: items,
        metadata: metadata(),
      });
      return { status: 200, body: link };
    }
    if (resource === 'refunds') {
      if (method === 'GET' && id) {
        const refund = this.refunds.get(id);
        return refund ? { status: 200, body: refund } : notFound(`refund: '${id}'`);
      }
      // Stripe has no refund search: a lookup lists the payment's refunds and reads their metadata.
      if (method === 'GET')
        return newestFirst(
          [...this.refunds.values()].filter(
            (refund) =>
              (!params.payment_intent || refund.payment_intent === params.payment_intent) &&
              (!params.charge || refund.charge === params.charge),
          ),
        );
      const payment = String(params.payment_intent ?? params.charge ?? '');
      if (!payment) return invalid('One of charge or payment_intent is required.');
      const refund = this.#create('refund', this.refunds, {
        id: this.#id('re'),
        object: 'refund',
        amount: Number(params.amount),
        currency: 'eur',
        payment_intent: params.payment_intent ?? null,
        charge: params.charge ?? null,
        reason: params.reason ?? null,
        status: 'succeeded',
        metadata: metadata(),
        created: this.now(),
      });
      return { status: 200, body: refund };
    }
    return notFound(`route: ${method} ${path}`);
  }
}
