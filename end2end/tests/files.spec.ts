// Files in conversations, as people send them: a screenshot pasted into the widget reaches
// the agent as a thumbnail that opens the full image; a PDF an agent picks is a download
// for the customer; a file too large or of a refused type says why, in the reader's
// language; an upload broken off by a server restart goes again by itself and arrives once.
import { test, expect, Locator } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AGENT, open, loginAgent, loginCustomer, openConversation, send, expectLastMessage,
  expectAccessible, expectNoProblems, startOwnServer, waitForHydration, Person,
} from './helpers';

/** A real screenshot to send: the README's picture of the console, 1100 × 640. */
const SCREENSHOT = readFileSync(path.join(__dirname, '../../docs/console.png'));
/** Its thumbnail: 320 wide, the same shape. */
const THUMB: [number, number] = [320, Math.round((640 * 320) / 1100)];

const PDF = Buffer.from('%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');

/** Pastes a file into the composer as the browser does with a screenshot on the clipboard. */
async function pasteFile(composer: Locator, name: string, type: string, bytes: Buffer) {
  await composer.evaluate((el, { name, type, b64 }) => {
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const clipboard = new DataTransfer();
    clipboard.items.add(new File([data], name, { type }));
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: clipboard, bubbles: true, cancelable: true }));
  }, { name, type, b64: bytes.toString('base64') });
}

/** The natural size of an image the page shows, once it has loaded. */
async function shownSize(image: Locator): Promise<[number, number]> {
  await expect.poll(() => image.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth)).toBeGreaterThan(0);
  return image.evaluate((i: HTMLImageElement) => [i.naturalWidth, i.naturalHeight] as [number, number]);
}

test('a screenshot pasted in the widget reaches the agent as a thumbnail that opens the full image', async ({ browser }) => {
  const agent = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  // The widget's page (what widget.js frames on a host site), phone-sized.
  const customer = await open(browser, '/widget', { viewport: { width: 360, height: 640 } });
  const frame = customer.page;
  await frame.getByTestId('login-name').fill('Shirin');
  await frame.getByTestId('login-submit').click();
  await expect(frame.getByTestId('me')).toHaveText('Shirin');

  await frame.getByTestId('composer').fill('Here is what I see');
  await frame.getByTestId('send').click();
  await pasteFile(frame.getByTestId('composer'), 'screenshot.png', 'image/png', SCREENSHOT);
  // The customer sees it sent, as its thumbnail, after the text.
  const mine = frame.getByTestId('message').filter({ has: frame.getByTestId('attachment-image') });
  await expect(mine).toHaveCount(1);
  await expect(mine).toHaveAttribute('data-status', 'sent');
  expect(await shownSize(mine.getByTestId('attachment-image').locator('img'))).toEqual(THUMB);
  await expect(frame.getByTestId('message')).toHaveCount(2);

  await openConversation(agent.page, 'Shirin');
  const theirs = agent.page.getByTestId('message').last();
  await expect(theirs).toHaveAttribute('data-self', 'false');
  const thumb = theirs.getByTestId('attachment-image');
  await expect(thumb).toHaveAccessibleName('Open the full image: screenshot.png');
  expect(await shownSize(thumb.locator('img'))).toEqual(THUMB);
  await expectAccessible(agent.page, 'conversation with an image');

  await thumb.click();
  const viewer = agent.page.getByTestId('viewer');
  await expect(viewer).toBeVisible();
  expect(await shownSize(viewer.getByTestId('viewer-image'))).toEqual([1100, 640]);
  await expect(agent.page.getByTestId('viewer-close')).toBeFocused();
  await expectAccessible(agent.page, 'image viewer');
  await agent.page.keyboard.press('Escape');
  await expect(viewer).toBeHidden();
  await expect(thumb, 'the focus goes back to the thumbnail').toBeFocused();
  expectNoProblems(agent, customer);
  await agent.context.close();
  await customer.context.close();
});

test('an agent sends a PDF from the picker and the customer downloads it', async ({ browser }) => {
  const agent = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  const tomas = await open(browser);
  await loginCustomer(tomas.page, 'Tomas');
  await send(tomas.page, 'Can I have the invoice?');
  await openConversation(agent.page, 'Tomas');
  await expectLastMessage(agent.page, 'Can I have the invoice?', false);

  await agent.page.getByTestId('attach-input').setInputFiles({ name: 'invoice 2041.pdf', mimeType: 'application/pdf', buffer: PDF });
  const file = tomas.page.getByTestId('message').last().getByTestId('attachment-file');
  await expect(file).toHaveText(/Download invoice 2041\.pdf \(\d+ B\)/);
  const [download] = await Promise.all([tomas.page.waitForEvent('download'), file.click()]);
  expect(download.suggestedFilename()).toBe('invoice 2041.pdf');
  expect(readFileSync(await download.path())).toEqual(PDF);
  // Offered as a download, never shown in the page: the customer's page is still the chat.
  await expect(tomas.page.getByTestId('composer')).toBeVisible();
  expectNoProblems(agent, tomas);
  await agent.context.close();
  await tomas.context.close();
});

test('a file too large or of a refused type says why, in Chinese too, and is not sent', async ({ browser }) => {
  const zola = await open(browser, '/', { locale: 'zh-CN' });
  await loginCustomer(zola.page, 'Zola');
  await send(zola.page, '你好');
  const input = zola.page.getByTestId('attach-input');
  // One byte over the server's 10 MB: refused before a byte is sent.
  await input.setInputFiles({ name: 'big.zip', mimeType: 'application/zip', buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
  const error = zola.page.getByTestId('upload-error');
  await expect(error).toHaveText('文件太大：文件最大 10 MB。');
  await expect(zola.page.getByTestId('upload-retry'), 'the same file would fail again').toHaveCount(0);
  await zola.page.getByTestId('upload-remove').click();
  await expect(zola.page.getByTestId('upload')).toHaveCount(0);

  // HTML named as a picture: the server reads the bytes and refuses it.
  const html = Buffer.from('<!DOCTYPE html><html><body><script>alert(1)</script></body></html>');
  await input.setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: html });
  await expect(error).toContainText('不能发送这种类型的文件');
  // The browser logs the refused request itself; nothing else may be logged.
  await expect.poll(() => zola.problems.filter((p) => p.includes('status of 415')).length).toBe(1);
  zola.problems = zola.problems.filter((p) => !p.includes('status of 415'));
  await expectAccessible(zola.page, 'a refused upload');
  // Nothing was sent: the conversation still holds the greeting only.
  await expect(zola.page.getByTestId('message')).toHaveCount(1);
  expectNoProblems(zola);
  await zola.context.close();
});

test('an upload broken off by a server restart goes again by itself and arrives once', async ({ browser }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-upload-'));
  const port = Number(process.env.E2E_UPLOAD_PORT ?? 3213);
  const db = path.join(dir, 'chat.db');
  let server = await startOwnServer(port, db);
  let una: Person | undefined;
  try {
    const base = `http://127.0.0.1:${port}`;
    una = await open(browser, `${base}/`);
    await loginCustomer(una.page, 'Una');
    await send(una.page, 'Sending the log now');
    await expectLastMessage(una.page, 'Sending the log now', true);

    // A slow line, so that the upload is under way when the server goes.
    const cdp = await una.context.newCDPSession(una.page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
    const log = Buffer.from('line of a log file\n'.repeat(200_000));
    await una.page.getByTestId('attach-input').setInputFiles({ name: 'app.log', mimeType: 'text/plain', buffer: log });
    const progress = una.page.getByTestId('upload').locator('progress');
    await expect.poll(() => progress.evaluate((p: HTMLProgressElement) => p.value)).toBeGreaterThan(0);
    server.kill('SIGKILL');
    await expect(una.page.getByTestId('upload-error')).toBeVisible();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    server = await startOwnServer(port, db);
    await waitForHydration(una.page);

    // Once the connection is back the upload goes again, and the file arrives once.
    await expect(una.page.getByTestId('upload')).toHaveCount(0, { timeout: 20_000 });
    const files = una.page.getByTestId('attachment-file');
    await expect(files).toHaveCount(1);
    await expect(files).toContainText('app.log');
    await una.page.waitForTimeout(1_000);
    await expect(files).toHaveCount(1);
    // The broken connection is what the browser logged, nothing else.
    una.problems = una.problems.filter((p) => !/ERR_CONNECTION|net::|WebSocket|status of 5\d\d/.test(p));
    expectNoProblems(una);
  } finally {
    await una?.context.close();
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
