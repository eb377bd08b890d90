/** A browser-less client of the web console over real HTTP: keeps the session cookie, finds CSRF tokens. */
export class ConsoleClient {
  cookie: string | undefined;
  constructor(readonly baseUrl: string) {}

  /** Open a login link (its origin replaced by this server's) and post its token, as the page's script does. */
  async login(link: string): Promise<Response> {
    const url = new URL(link);
    const page = await fetch(`${this.baseUrl}${url.pathname}${url.search}`);
    const html = await page.text();
    const token = /name="token" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const response = await this.request('POST', '/console/login', { token });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    return response;
  }

  get(path: string): Promise<Response> {
    return this.request('GET', path);
  }

  /** POST a form; `csrf` is taken from the page at `csrfFrom` unless given. */
  async post(path: string, form: Record<string, string>, csrfFrom = '/console'): Promise<Response> {
    const csrf = form.csrf ?? (await this.csrf(csrfFrom));
    return this.request('POST', path, { csrf, ...form });
  }

  async csrf(page: string): Promise<string> {
    const html = await (await this.get(page)).text();
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  }

  request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
  }
}
