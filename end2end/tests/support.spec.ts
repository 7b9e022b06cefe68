// A customer writes to the support team, not to a recipient they pick: they see who of the
// team is online (avatars and names) and, from the desk's recent history, how soon it
// usually answers; in English and Chinese, accessible, at 360 px.
// This test runs its own server, on a database with a week of answered questions in it.
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  addOwnAgent, startOwnServer, stopOwnServer, find, open, loginAgent, loginCustomer, send, openConversation,
  expectLoggedIn, expectUsers, expectLastMessage, expectAccessible, expectNoProblems,
} from './helpers';

const port = Number(process.env.E2E_SUPPORT_PORT ?? 3215);
const base = `http://127.0.0.1:${port}`;

/** Writes into the database (the server stopped) `n` customers' questions of the last
 * days, each first answered `waitMinutes` later by Agnes. */
function storeAnsweredQuestions(db: string, n: number, waitMinutes: number) {
  const script = `
import sqlite3, sys, time
db, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
now = int(time.time() * 1000)
con = sqlite3.connect(db)
for i in range(n):
    asked = now - (i + 1) * 6 * 3600 * 1000
    answered = asked + wait * 60 * 1000
    cur = con.execute("INSERT INTO customers (name, created_at) VALUES (?, ?)", (f"past{i}", asked))
    customer = cur.lastrowid
    cur = con.execute(
        "INSERT INTO conversations (customer_id, last_seq, created_at, updated_at, status) VALUES (?, 2, ?, ?, 'resolved')",
        (customer, asked, answered))
    conversation = cur.lastrowid
    for seq, role, key, name, body, at in [
        (1, 'customer', str(customer), f"past{i}", 'Where is my order?', asked),
        (2, 'agent', 'agnes', 'Agnes', 'It left today.', answered),
    ]:
        con.execute(
            "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (conversation, seq, role, key, name, body, at))
con.commit()
`;
  const done = spawnSync('python3', ['-c', script, db, String(n), String(waitMinutes)]);
  expect(done.status, String(done.stderr)).toBe(0);
}


test('a customer writes to the support team, sees who is online and how soon it usually answers', async ({ browser }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-support-'));
  const db = path.join(dir, 'chat.db');
  addOwnAgent(port, db, 'Agnes', 'agnes-password');
  addOwnAgent(port, db, 'Bruno', 'bruno-password');
  // Three minutes to the first answer, lately.
  storeAnsweredQuestions(db, 6, 3);
  const server = await startOwnServer(port, db);
  try {
    // On a phone: the header fits, nothing to pick.
    const hana = await open(browser, base, { viewport: { width: 360, height: 740 } });
    await loginCustomer(hana.page, 'Hana');
    await expectLoggedIn(hana.page, 'Hana');
    const support = hana.page.getByTestId('support');
    await expect(support.getByRole('heading')).toHaveText('Support team');
    await expect(hana.page.getByTestId('recipient'), 'no recipient to pick').toHaveCount(0);
    // Nobody online: she is told so, and no promise about answer times is made.
    await expect(hana.page.getByTestId('no-agents')).toBeVisible();
    await expect(hana.page.getByTestId('reply-time')).toHaveCount(0);

    const agnes = await open(browser, base);
    await loginAgent(agnes.page, 'Agnes', 'agnes-password');
    const bruno = await open(browser, base);
    await loginAgent(bruno.page, 'Bruno', 'bruno-password');
    await expectUsers(hana.page, ['Agnes', 'Bruno']);
    await expect(support.locator('[data-name="Agnes"] .avatar')).toHaveAttribute('data-initial', 'A');
    await expect(hana.page.getByTestId('reply-time')).toHaveText('Usually answers in a few minutes');
    await expect(hana.page.getByTestId('no-agents')).toHaveCount(0);
    const width = await hana.page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, 'nothing wider than the phone').toBeLessThanOrEqual(360);
    await expectAccessible(hana.page, 'customer view with the team online');

    // She writes to the team: whoever the queue gives it to answers.
    await send(hana.page, 'Hello, anyone there?');
    await expectLastMessage(hana.page, 'Hello, anyone there?', true);
    let agent = agnes;
    await expect.poll(async () => {
      for (const a of [agnes, bruno]) {
        if (await a.page.getByTestId('mine').locator('[data-name="Hana"]').count()) {
          agent = a;
          return true;
        }
      }
      return false;
    }, { message: 'the queue gives her conversation to one of them' }).toBe(true);
    await openConversation(agent.page, 'Hana');
    await expectLastMessage(agent.page, 'Hello, anyone there?', false);
    await send(agent.page, 'Yes, how can I help?');
    await expectLastMessage(hana.page, 'Yes, how can I help?', false);

    // In Chinese.
    await hana.page.getByTestId('lang').selectOption('zh-CN');
    await expect(support.getByRole('heading')).toHaveText('客服团队');
    await expect(hana.page.getByTestId('reply-time')).toHaveText('通常在几分钟内回复');
    await expectAccessible(hana.page, 'customer view in Chinese');

    expectNoProblems(hana, agnes, bruno);
    for (const p of [hana, agnes, bruno]) await p.context.close();
  } finally {
    await stopOwnServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});
