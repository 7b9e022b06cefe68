// Helpers for the browser tests, split into find / act / check.
import { Browser, BrowserContext, BrowserContextOptions, ConsoleMessage, Page, expect } from '@playwright/test';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';

export const AGENT = { name: 'Support', password: process.env.E2E_AGENT_PASSWORD ?? 'support-pass-1' };

/** A person in their own browser context, with every console problem recorded. */
export interface Person {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

/** Opens `url` in a browser context of its own; `prepare` runs on the context before the
 * page loads (to route its requests, say). */
export async function open(
  browser: Browser, url = '/', options: BrowserContextOptions = {}, prepare?: (context: BrowserContext) => Promise<void>,
): Promise<Person> {
  const context = await browser.newContext(options);
  if (prepare) await prepare(context);
  const page = await context.newPage();
  const problems: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (msg: ConsoleMessage) => {
      const text = msg.text();
      if (msg.type() === 'error' || /hydrat/i.test(text)) problems.push(`${msg.type()}: ${text}`);
    });
    p.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  };
  watch(page);
  await page.goto(url);
  await waitForHydration(page);
  return { context, page, problems };
}

// --- find ------------------------------------------------------------------------------

export const find = {
  connection: (p: Page) => p.getByTestId('connection'),
  me: (p: Page) => p.getByTestId('me'),
  /** The people online in the side list (an agent's list also keeps offline conversations). */
  users: (p: Page) => p.locator('[data-testid="user"][data-online="true"]'),
  user: (p: Page, name: string) => p.locator(`[data-testid="user"][data-name="${name}"]`),
  messages: (p: Page) => p.getByTestId('message'),
  loginError: (p: Page) => p.getByTestId('login-error'),
  error: (p: Page) => p.getByTestId('error'),
};

// --- act -------------------------------------------------------------------------------

/** The page is interactive once the WASM client has connected (in any language). */
export async function waitForHydration(page: Page) {
  await expect(find.connection(page)).toHaveClass(/conn-online/);
}

export async function loginCustomer(page: Page, name: string) {
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-submit').click();
}

/** Submits the agent's login form, whatever comes of it. */
export async function submitAgentLogin(page: Page, name: string, password: string) {
  await page.getByTestId('login-name').fill(name);
  await page.getByTestId('login-agent').check();
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

/** Logs an agent in and waits until the console is theirs: the password check takes a
 * moment, and a customer who writes before it is over finds no agent online (so the
 * conversation does not open by itself in the console, which a test would take for a loss). */
export async function loginAgent(page: Page, name: string, password: string) {
  await submitAgentLogin(page, name, password);
  await expect(find.me(page)).toHaveText(/\S/);
}

/** Opens someone's conversation. A row moves between the console's sections when its
 * conversation is assigned, so a click that lands just then is repeated. */
export async function openConversation(page: Page, name: string) {
  await expect(async () => {
    await find.user(page, name).click({ timeout: 2_000 });
    await expect(find.user(page, name)).toHaveAttribute('aria-current', 'true', { timeout: 1_000 });
  }).toPass();
}

export async function send(page: Page, text: string) {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('send').click();
}

// --- check -----------------------------------------------------------------------------

export async function expectLoggedIn(page: Page, name: string) {
  await expect(find.me(page)).toHaveText(name);
}

/** The names in the user list, other than the person's own. */
export async function expectUsers(page: Page, names: string[]) {
  await expect(find.users(page)).toHaveText(names);
}

/** The texts of the open conversation, oldest first. */
export async function expectMessages(page: Page, texts: string[]) {
  await expect(find.messages(page).locator('.text')).toHaveText(texts);
}

/** Reloads the page and waits until the client is connected again. */
export async function reload(page: Page) {
  await page.reload();
  await waitForHydration(page);
}

export async function expectLastMessage(page: Page, text: string, mine: boolean) {
  const last = find.messages(page).last();
  await expect(last.locator('.text')).toHaveText(text);
  await expect(last).toHaveAttribute('data-self', String(mine));
  await expect(last).toHaveClass(mine ? /mine/ : /theirs/);
  await expect(last).toHaveAttribute('data-status', 'sent');
}

/** Takes out of a person's console record the one line the browser itself logs for an
 * expected refusal (a 401 answer to a wrong password), checking that it is there. */
export function expectRefusedRequest(person: Person, status: number) {
  const line = `the server responded with a status of ${status}`;
  const found = person.problems.filter((p) => p.includes(line));
  expect(found, `one refused request (${status}) in ${JSON.stringify(person.problems)}`).toHaveLength(1);
  person.problems = person.problems.filter((p) => !p.includes(line));
}

/** WCAG 2.1 A and AA (contrast included) on what the page shows now. */
export async function expectAccessible(page: Page, view: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(found, `axe on the ${view}`).toEqual([]);
}

export function expectNoProblems(...people: Person[]) {
  for (const person of people) expect(person.problems).toEqual([]);
}

// --- a server of a test's own -------------------------------------------------------------

/** The build the suite runs against: the release build `make run` serves, unless
 * E2E_BUILD=debug (as serve.sh). */
export const SERVER_BINARY = path.resolve(__dirname, `../../target/${process.env.E2E_BUILD || 'release'}/chat`);

/** The environment of a server of a test's own: the built site, on `port`, with the
 * SQLite file `db` and `extra` settings. */
export function ownServerEnv(port: number, db: string, extra: Record<string, string> = {}) {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: `sqlite://${db}`,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_OUTPUT_NAME: 'chat',
    ...extra,
  };
  // The release's own site, as deployed (both bundles, versioned names); a debug build's is
  // read from target/site, as in serve.sh.
  if (process.env.E2E_BUILD === 'debug') env.LEPTOS_SITE_ROOT = path.resolve(__dirname, '../../target/site');
  else delete env.LEPTOS_SITE_ROOT;
  return env;
}

/** Starts a server of a test's own (for tests that stop it, or need other settings than
 * the suite's) and waits until it answers. */
export async function startOwnServer(port: number, db: string, extra: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(SERVER_BINARY, [], { env: ownServerEnv(port, db, extra), stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}

/** Stops a server of a test's own gracefully and waits until it has exited. */
export async function stopOwnServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Adds an agent account (an admin's, with `admin`) to the database `db` of a server of a
 * test's own (with the server's own command line, as an operator would). */
export function addOwnAgent(port: number, db: string, name: string, password: string, admin = false) {
  const args = ['agent', 'add', ...(admin ? ['--admin'] : []), name];
  const added = spawnSync(SERVER_BINARY, args, { env: ownServerEnv(port, db), input: `${password}\n` });
  expect(added.status, String(added.stderr)).toBe(0);
}
