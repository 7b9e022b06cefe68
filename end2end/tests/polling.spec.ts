// Behind a proxy or firewall that lets no websocket through, the chat goes by long-polling:
// a customer and an agent still talk both ways, and a server restart is survived as over a
// websocket. When a websocket does get through later, the connection upgrades to it
// without losing or doubling a message.
import { test, expect, BrowserContext, WebSocketRoute } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AGENT, addOwnAgent, startOwnServer, stopOwnServer, find, open, loginAgent, loginCustomer, openConversation, send,
  expectLoggedIn, expectUsers, expectLastMessage, expectMessages, expectNoProblems, Person,
} from './helpers';

const port = Number(process.env.E2E_POLLING_PORT ?? 3214);
const base = `http://127.0.0.1:${port}`;

/** Counts the page's websocket attempts; `through(n)` says whether the n-th (from 1) may
 * reach the server. Those that may not are closed before the server's first word, as a
 * proxy that refuses them would. */
function websockets(through: (n: number) => boolean) {
  const seen = { attempts: 0, connected: 0 };
  const prepare = async (context: BrowserContext) => {
    await context.routeWebSocket(/\/socket\.io\//, (ws: WebSocketRoute) => {
      seen.attempts += 1;
      if (through(seen.attempts)) {
        seen.connected += 1;
        ws.connectToServer();
      } else {
        ws.close();
      }
    });
  };
  return { seen, prepare };
}

const transport = (person: Person) => find.connection(person.page);

/** What the browser logs while the server is down (refused polls), and nothing else. */
function forgetRefusedRequests(...people: Person[]) {
  for (const p of people) {
    p.problems = p.problems.filter((m) => !/ERR_CONNECTION_REFUSED|Failed to load resource|Failed to fetch/.test(m));
  }
}


test('with websockets blocked, a customer and an agent chat both ways by long-polling and survive a server restart', async ({ browser }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-polling-'));
  const db = path.join(dir, 'chat.db');
  addOwnAgent(port, db, 'Agnes', 'agnes-password');
  let server = await startOwnServer(port, db);
  try {
    const agentSockets = websockets(() => false);
    const ginaSockets = websockets(() => false);
    const agent = await open(browser, base, {}, agentSockets.prepare);
    const gina = await open(browser, base, {}, ginaSockets.prepare);
    for (const p of [agent, gina]) await expect(transport(p)).toHaveAttribute('data-transport', 'polling');

    await loginAgent(agent.page, 'Agnes', 'agnes-password');
    await loginCustomer(gina.page, 'Gina');
    await expectLoggedIn(agent.page, 'Agnes');
    await expectLoggedIn(gina.page, 'Gina');
    await expectUsers(agent.page, ['Gina']);

    await send(gina.page, 'Hello through the proxy');
    await expectLastMessage(agent.page, 'Hello through the proxy', false);
    await openConversation(agent.page, 'Gina');
    await send(agent.page, 'Hello Gina, we read you');
    await expectLastMessage(gina.page, 'Hello Gina, we read you', false);

    await stopOwnServer(server);
    for (const p of [agent, gina]) await expect(find.connection(p.page)).toContainText('reconnecting in');
    await send(gina.page, 'Written while the server was down');
    await expect(find.messages(gina.page).last()).toHaveAttribute('data-status', 'pending');

    server = await startOwnServer(port, db);
    for (const p of [agent, gina]) {
      await expect(find.connection(p.page)).toHaveText('Connected', { timeout: 20_000 });
      await expect(transport(p)).toHaveAttribute('data-transport', 'polling');
    }
    await expectLoggedIn(agent.page, 'Agnes');
    await expectLoggedIn(gina.page, 'Gina');
    await expectLastMessage(agent.page, 'Written while the server was down', false);
    await send(agent.page, 'Back again');
    await expectLastMessage(gina.page, 'Back again', false);
    await send(gina.page, 'Thanks');
    await expectLastMessage(agent.page, 'Thanks', false);
    // Each once, in order, on both sides.
    const all = ['Hello through the proxy', 'Hello Gina, we read you', 'Written while the server was down', 'Back again', 'Thanks'];
    await expectMessages(agent.page, all);
    await expectMessages(gina.page, all);

    // Websockets were tried (and refused) and nothing reached the server by one.
    for (const s of [agentSockets, ginaSockets]) {
      expect(s.seen.attempts).toBeGreaterThan(0);
      expect(s.seen.connected).toBe(0);
    }
    forgetRefusedRequests(agent, gina);
    expectNoProblems(agent, gina);
    await agent.context.close();
    await gina.context.close();
  } finally {
    await stopOwnServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a connection made by long-polling upgrades to a websocket once one gets through, losing and doubling nothing', async ({ browser }) => {
  // The first websocket is refused; the upgrade's probe, a moment later, gets through.
  const sockets = websockets((n) => n > 1);
  const agent = await open(browser);
  const hugo = await open(browser, '/', {}, sockets.prepare);
  await loginAgent(agent.page, 'support', AGENT.password);
  await loginCustomer(hugo.page, 'Hugo');
  await expectLoggedIn(hugo.page, 'Hugo');

  // Written at once, some by polling and some, perhaps, around the upgrade.
  const early = Array.from({ length: 6 }, (_, i) => `Early ${i + 1}`);
  for (const text of early) await send(hugo.page, text);
  await expect(transport(hugo)).toHaveAttribute('data-transport', 'websocket');
  expect(sockets.seen.connected, 'one websocket: the upgrade').toBe(1);
  await expect(find.connection(hugo.page)).toHaveText('Connected');
  const late = ['After the upgrade'];
  for (const text of late) await send(hugo.page, text);

  await openConversation(agent.page, 'Hugo');
  await expectMessages(agent.page, [...early, ...late]);
  await send(agent.page, 'All seven arrived');
  await expectLastMessage(hugo.page, 'All seven arrived', false);
  await expectMessages(hugo.page, [...early, ...late, 'All seven arrived']);
  expect(sockets.seen.attempts, 'no reconnect: the upgrade kept the connection').toBe(2);

  expectNoProblems(agent, hugo);
  await agent.context.close();
  await hugo.context.close();
});
