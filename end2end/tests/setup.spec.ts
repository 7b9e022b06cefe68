// The first run, as a new user meets it: the one-file `chat` binary (the site inside it, no
// LEPTOS_SITE_ROOT) started on an empty database prints a link; the link's page creates the
// first admin, who lands in the console; the link then no longer works. In both languages,
// axe clean, at 360 px.
import { test, expect, Page } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open, find, expectAccessible, expectLoggedIn, expectNoProblems, stopOwnServer } from './helpers';

const port = Number(process.env.E2E_SETUP_PORT ?? 3216);
const base = `http://127.0.0.1:${port}`;
const CHAT_BINARY = path.resolve(__dirname, `../../target/${process.env.E2E_BUILD || 'release'}/chat`);

/** Starts the one-file binary on an empty database and returns it with the link it printed. */
async function startFresh(db: string): Promise<{ child: ChildProcess; link: string }> {
  const env = { ...process.env, DATABASE_URL: `sqlite://${db}`, LEPTOS_SITE_ADDR: `127.0.0.1:${port}`, RUST_LOG: 'warn' };
  delete env.LEPTOS_SITE_ROOT;
  const child = spawn(CHAT_BINARY, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const link = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no setup link in 30 s:\n${log}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const found = log.match(/http:\/\/\S+\/setup#[A-Za-z0-9_-]+/);
      if (found) {
        clearTimeout(timer);
        resolve(found[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${log}`)));
  });
  return { child, link };
}

async function fill(page: Page, name: string, password: string, again = password) {
  await page.getByTestId('setup-name').fill(name);
  await page.getByTestId('setup-password').fill(password);
  await page.getByTestId('setup-again').fill(again);
  await page.getByTestId('setup-submit').click();
}

test('the link the server printed creates the first admin once, who lands in the console', async ({ browser }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-setup-'));
  const { child, link } = await startFresh(path.join(dir, 'chat.db'));
  try {
    expect(link.startsWith(`${base}/setup#`)).toBe(true);
    // The site comes out of the binary, compressed.
    const person = await open(browser, link, { viewport: { width: 360, height: 740 } });
    const { page } = person;
    const wasm = await page.request.get(`${base}/pkg/chat.wasm`, { headers: { 'Accept-Encoding': 'br' } });
    expect(wasm.headers()['content-encoding']).toBe('br');
    expect(wasm.headers()['etag']).toBeTruthy();

    await expect(page.getByRole('heading', { name: 'Create the first admin' })).toBeVisible();
    await expectAccessible(page, 'setup page (360 px)');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // Bad input is told in words, before anything is sent.
    await fill(page, 'Ada', 'ada-password-1', 'ada-password-2');
    await expect(page.getByTestId('setup-error')).toHaveText('The two passwords differ.');
    await fill(page, 'Ada', 'short');
    await expect(page.getByTestId('setup-error')).toContainText('at least 8 characters');
    await expectAccessible(page, 'setup page with an error');

    // A wrong token (another page, in Chinese): the server says the link does not work.
    const stranger = await open(browser, `${base}/setup#not-the-token`, { locale: 'zh-CN' });
    await expect(stranger.page.getByRole('heading', { name: '创建第一位管理员' })).toBeVisible();
    await expectAccessible(stranger.page, 'setup page in Chinese');
    await fill(stranger.page, 'Eve', 'eve-password-1');
    await expect(stranger.page.getByTestId('setup-error')).toContainText('此设置链接已失效');
    stranger.problems = stranger.problems.filter((p) => !p.includes('403'));

    // The right one: the admin is made and logged in, in the console (the team is theirs to
    // manage), and the address no longer holds the token.
    await fill(page, 'Ada', 'ada-password-1');
    await expectLoggedIn(page, 'Ada');
    await expect(page).toHaveURL(`${base}/`);
    await expect(page.getByTestId('team')).toBeVisible();
    await expectAccessible(page, 'console after setup (360 px)');

    // Used: the same link refuses another admin.
    const again = await open(browser, link);
    await fill(again.page, 'Mallory', 'mallory-password');
    await expect(again.page.getByTestId('setup-error')).toContainText('does not work');
    again.problems = again.problems.filter((p) => !p.includes('403'));
    await expect(find.me(again.page)).toHaveCount(0);
    expectNoProblems(person, stranger, again);
  } finally {
    await stopOwnServer(child);
    rmSync(dir, { recursive: true, force: true });
  }
});
