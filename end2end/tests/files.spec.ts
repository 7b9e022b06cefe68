// Files in conversations, as people send them: a screenshot pasted into the widget reaches
// the agent as a thumbnail that opens the full image; a PDF an agent picks is a download
// for the customer; a file too large or of a refused type says why, in the reader's
// language; an upload broken off by a server restart goes again by itself and arrives once.
import { test, expect, Locator } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import {
  AGENT, open, loginAgent, loginCustomer, openConversation, send, expectLastMessage,
  expectAccessible, expectNoProblems, startOwnServer, waitForHydration,
} from './helpers';

/** A `width`×`height` PNG with a pattern in it (PNG: signature, IHDR, IDAT, IEND). */
function png(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = (x * 255) / width;
      rows[row + 2 + x * 3] = (y * 255) / height;
      rows[row + 3 + x * 3] = 180;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

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
  await pasteFile(frame.getByTestId('composer'), 'screenshot.png', 'image/png', png(1200, 600));
  // The customer sees it sent, with its thumbnail; the composer kept no text of it.
  const mine = frame.getByTestId('message').last();
  await expect(mine).toHaveAttribute('data-status', 'sent');
  expect(await shownSize(mine.getByTestId('attachment-image').locator('img'))).toEqual([320, 160]);
  await expect(frame.getByTestId('composer')).toHaveValue('');

  await openConversation(agent.page, 'Shirin');
  const theirs = agent.page.getByTestId('message').last();
  await expect(theirs).toHaveAttribute('data-self', 'false');
  const thumb = theirs.getByTestId('attachment-image');
  await expect(thumb).toHaveAccessibleName('Open the full image: screenshot.png');
  expect(await shownSize(thumb.locator('img'))).toEqual([320, 160]);
  await expectAccessible(agent.page, 'conversation with an image');

  await thumb.click();
  const viewer = agent.page.getByTestId('viewer');
  await expect(viewer).toBeVisible();
  expect(await shownSize(viewer.getByTestId('viewer-image'))).toEqual([1200, 600]);
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
  expect(zola.problems.filter((p) => p.includes('status of 415'))).toHaveLength(1);
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
  try {
    const base = `http://127.0.0.1:${port}`;
    const una = await open(browser, `${base}/`);
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
    await una.context.close();
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
