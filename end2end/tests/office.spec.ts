// Outside office hours, and with no agent online, the widget says so, and the customer can
// still write. This test runs its own server (not the suite's, which has agents online
// now and then), with office hours that are never now and no agent at all.
import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open, loginCustomer, send, expectLoggedIn, expectLastMessage, expectNoProblems, startOwnServer } from './helpers';

const port = Number(process.env.E2E_OFFICE_PORT ?? 3212);
const base = `http://127.0.0.1:${port}`;

/** One hour two days from today: never now. */
function closedHours(): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][(new Date().getUTCDay() + 2) % 7];
  return `${day} 09:00-10:00; UTC+00:00`;
}

test('outside office hours the widget says so and takes the message for later', async ({ browser }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-office-'));
  const hours = closedHours();
  const server = await startOwnServer(port, path.join(dir, 'chat.db'), { OFFICE_HOURS: hours });
  try {
    for (const [lang, notice] of [
      ['en', `We are closed right now. Our hours: ${hours} Leave a message: we will answer when we are back.`],
      ['zh-CN', `我们现在不在工作时间。工作时间： ${hours} 请留言，我们上班后会回复您。`],
    ]) {
      const cust = await open(browser, `${base}/widget?lang=${lang}`);
      const name = `Night${lang.slice(0, 2)}`;
      await loginCustomer(cust.page, name);
      await expectLoggedIn(cust.page, name);
      await expect(cust.page.getByTestId('closed')).toHaveText(notice);
      // Nobody is at the desk either (this server has no agents): the widget says so too.
      await expect(cust.page.getByTestId('no-agents')).toBeVisible();
      await send(cust.page, 'Are you open tomorrow?');
      await expectLastMessage(cust.page, 'Are you open tomorrow?', true);
      const { violations } = await new AxeBuilder({ page: cust.page }).withTags(['wcag2a', 'wcag2aa']).analyze();
      expect(violations.map((v) => v.id)).toEqual([]);
      expectNoProblems(cust);
      await cust.context.close();
    }
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
