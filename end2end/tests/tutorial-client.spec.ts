// The tutorial's own client library (socket.io-client), used the tutorial's way:
// io(url), emit('login', name) on connect, default transports (long-polling, then upgrade).
import { test, expect } from '@playwright/test';
import { io, Socket } from 'socket.io-client';
import { AGENT } from './helpers';

function next<T = unknown>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, resolve));
}

test('a tutorial-era JS client works unchanged', async ({ baseURL }) => {
  const agent = io(baseURL!, { reconnection: false });
  agent.on('connect', () => agent.emit('login', { name: AGENT.name, role: 'agent', password: AGENT.password }));
  await next(agent, 'login_success');

  const customer = io(baseURL!, { reconnection: false });
  const loggedIn = next<unknown>(customer, 'login_success');
  const list = next<string[]>(customer, 'user_list');
  customer.on('connect', () => customer.emit('login', 'tutorial-user'));
  await loggedIn;
  expect(await list).toEqual([AGENT.name, 'tutorial-user'].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));

  // Only long-polling, as for an old browser.
  const old = io(baseURL!, { reconnection: false, transports: ['polling'] });
  old.on('connect', () => old.emit('login', 'tutorial-user'));
  expect(await next<string>(old, 'login_error')).toContain('taken');

  const received = next<any>(agent, 'message');
  const echoed = next<any>(customer, 'message');
  customer.emit('private_message', { to: AGENT.name, message: 'hello from the tutorial' });
  expect(await received).toMatchObject({ from: 'tutorial-user', to: AGENT.name, message: 'hello from the tutorial', self: false });
  expect(await echoed).toMatchObject({ from: 'tutorial-user', to: AGENT.name, message: 'hello from the tutorial', self: true });

  const error = next<string>(customer, 'error');
  customer.emit('private_message', { to: 'nobody-here', message: 'hi' });
  expect(typeof (await error)).toBe('string');

  // Agents (our console, not a tutorial client) are told the change, not the whole list.
  const presence = next<{ offline?: string[] }>(agent, 'presence');
  customer.disconnect();
  expect(await presence).toEqual({ offline: ['tutorial-user'] });

  for (const s of [agent, old]) s.disconnect();
});
