// The browser client reconnects after the server restarts, logs the person back in and
// sends what was written meanwhile; so does the tutorial's own client library.
// This test runs its own server (not the suite's), so that it can stop and start it.
import { test, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { io } from 'socket.io-client';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  addOwnAgent, startOwnServer, stopOwnServer, find, open, loginAgent, loginCustomer, send, expectLoggedIn, expectUsers, expectLastMessage, expectMessages, expectNoProblems,
} from './helpers';

const port = Number(process.env.E2E_RESTART_PORT ?? 3211);
const base = `http://127.0.0.1:${port}`;
const startServer = (db: string) => startOwnServer(port, db);

test('after a server restart both sides reconnect, log back in and can talk', async ({ browser }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-restart-'));
  const db = path.join(dir, 'chat.db');
  addOwnAgent(port, db, 'Agnes', 'agnes-password');
  let server = await startServer(db);
  try {
    const agent = await open(browser, base);
    const gina = await open(browser, base);
    await loginAgent(agent.page, 'Agnes', 'agnes-password');
    await loginCustomer(gina.page, 'Gina');
    await expectUsers(agent.page, ['Gina']);

    await send(gina.page, 'Before the restart');
    await expectLastMessage(agent.page, 'Before the restart', false);

    await stopOwnServer(server);
    for (const p of [agent.page, gina.page]) {
      await expect(find.connection(p)).toContainText('Disconnected');
      await expect(find.connection(p)).toContainText('reconnecting in');
    }
    // Written while offline: it waits in the page, shown as on its way.
    await send(gina.page, 'Written while offline');
    await expect(find.messages(gina.page).last()).toHaveAttribute('data-status', 'pending');

    server = await startServer(db);
    for (const p of [agent.page, gina.page]) await expect(find.connection(p)).toHaveText('Connected', { timeout: 20_000 });
    await expectLoggedIn(agent.page, 'Agnes');
    await expectLoggedIn(gina.page, 'Gina');
    await expectUsers(agent.page, ['Gina']);
    await expectUsers(gina.page, ['Agnes']);

    // The waiting message went out after the reconnect, once.
    await expectLastMessage(gina.page, 'Written while offline', true);
    await expectLastMessage(agent.page, 'Written while offline', false);
    await send(gina.page, 'Are you back?');
    await expectLastMessage(agent.page, 'Are you back?', false);
    await expectMessages(agent.page, ['Before the restart', 'Written while offline', 'Are you back?']);

    // The refused websocket connections while the server was down are logged by the browser;
    // anything else would be a problem.
    for (const p of [agent, gina]) p.problems = p.problems.filter((m) => !/WebSocket connection to .* failed/.test(m));
    expectNoProblems(agent, gina);
    await agent.context.close();
    await gina.context.close();
  } finally {
    await stopOwnServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the tutorial's own client reconnects after a graceful restart and logs in again by itself", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-restart-'));
  const db = path.join(dir, 'chat.db');
  let server = await startServer(db);
  // The tutorial's way: login on every connect; socket.io-client's default reconnection.
  const client = io(base, { reconnectionDelay: 200, reconnectionDelayMax: 500 });
  try {
    const logins: unknown[] = [];
    client.on('login_success', (ok) => logins.push(ok));
    client.on('connect', () => client.emit('login', 'tutorial-user'));
    await expect.poll(() => logins.length).toBe(1);

    const reason = new Promise<string>((resolve) => client.once('disconnect', resolve));
    await stopOwnServer(server);
    // A transport close (not "io server disconnect", after which the client would stay away).
    expect(await reason).toBe('transport close');
    server = await startServer(db);
    await expect.poll(() => logins.length, { timeout: 20_000 }).toBe(2);
    expect(client.connected).toBe(true);
  } finally {
    client.close();
    await stopOwnServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});
